/**
 * Server-sent events over fetch, so the request carries the API token (EventSource cannot send headers). Reconnects
 * after a dropped connection with Last-Event-ID, so lines are neither lost nor repeated; ends when the server ends.
 */
export async function followEvents(url: string, token: string, onEvent: (event: string, data: string, id: string | null) => void, signal: AbortSignal): Promise<void> {
  let lastId: string | null = null;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', ...(lastId ? { 'Last-Event-ID': lastId } : {}) }, signal });
      if (!res.ok || !res.body) throw new Error(`${res.status} ${res.statusText}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return; // the server ended the stream: the build is over
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (id) lastId = id;
          if (data.length > 0) onEvent(event, data.join('\n'), id);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
  }
}
