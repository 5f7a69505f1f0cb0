import { useEffect, useMemo, useState } from 'react';
import { ok, type Build, type LogLine, type Session } from '../api';
import { Ansi } from '../ansi';
import { Alert, useLoad } from '../hooks';
import { href } from '../router';
import { followEvents } from '../sse';
import { BuildActions, triggerText, usePoll } from './Builds';
import { duration, Status, when } from './format';

/** A build: its steps, instructions, failure with its hint, tags and digest, and its log, live while it runs. */
export function BuildDetail({ session, id }: { session: Session; id: string }) {
  const build = useLoad(async () => ok(await session.client.GET('/api/v1/builds/{id}', { params: { path: { id } } })), [id]);
  const b = build.data;
  usePoll(b && (b.status === 'queued' || b.status === 'running') ? 1500 : null, build.reload);
  if (build.error) return <Alert text={build.error} />;
  if (!b) return <p>Loading…</p>;
  const registryImage = b.tags[0]?.split(':').slice(0, -1).join(':');
  return (
    <section>
      <p className="crumbs">
        <a href={href('builds')}>Builds</a> / {b.id}
      </p>
      <h1>
        {b.imageRepository} · <Status status={b.status} />
      </h1>
      <dl className="facts">
        <dt>Rule</dt>
        <dd>{b.ruleDeleted ? `${b.ruleName} (deleted)` : b.ruleName}</dd>
        <dt>Ref</dt>
        <dd>{b.ref}</dd>
        <dt>Commit</dt>
        <dd>
          <code>{b.commit}</code>
        </dd>
        <dt>Trigger</dt>
        <dd>{triggerText(b)}</dd>
        <dt>Duration</dt>
        <dd>
          {duration(b.startedAt, b.finishedAt)} (started {when(b.startedAt)})
        </dd>
        {b.rebuildOf && (
          <>
            <dt>Rebuild of</dt>
            <dd>
              <a href={href('builds', b.rebuildOf)}>{b.rebuildOf}</a>
            </dd>
          </>
        )}
      </dl>
      {b.failure && (
        <div role="alert" className="failure">
          <h2>{b.failure.type}</h2>
          <p>{b.failure.message}</p>
          <p>
            <strong>What to do:</strong> {b.failure.hint}
          </p>
        </div>
      )}
      {b.tags.length > 0 && (
        <div className="panel">
          <h2>Image</h2>
          <ul>
            {b.tags.map((t) => (
              <li key={t}>
                <code>{t}</code>
              </li>
            ))}
          </ul>
          {b.digest && (
            <p>
              Digest <code>{b.digest}</code>
            </p>
          )}
          <label>
            Pull it
            <input readOnly value={`docker pull ${b.tags[0]}`} onFocus={(e) => e.target.select()} aria-label="docker pull command" />
          </label>
          {b.digest && registryImage && (
            <button type="button" onClick={() => void navigator.clipboard?.writeText(`docker pull ${registryImage}@${b.digest}`)}>
              Copy pull by digest
            </button>
          )}
        </div>
      )}
      <BuildActions session={session} build={b} onChanged={build.reload} />
      <Steps build={b} />
      <Log session={session} build={b} />
    </section>
  );
}

function Steps({ build }: { build: Build }) {
  return (
    <div className="panel">
      <h2>Steps</h2>
      <ol className="steps">
        {build.steps?.map((s) => (
          <li key={`${s.name}-${s.attempt}`}>
            <Status status={s.status} /> {s.name}
            {s.attempt > 1 ? ` (attempt ${s.attempt})` : ''} · {s.durationMs !== null ? `${(s.durationMs / 1000).toFixed(1)} s` : duration(s.startedAt, null)}
            {s.message && <span className="hint"> — {s.message}</span>}
          </li>
        ))}
      </ol>
      {build.instructions.length > 0 && (
        <>
          <h3>Dockerfile instructions</h3>
          <ol className="steps">
            {[...build.instructions]
              .sort((x, y) => stageOrder(x.name) - stageOrder(y.name) || x.vertex - y.vertex)
              .map((i) => (
                <li key={i.vertex}>
                  <Status status={i.status} /> <code>{i.name}</code> {i.durationMs !== null ? `${(i.durationMs / 1000).toFixed(1)} s` : ''}
                </li>
              ))}
          </ol>
        </>
      )}
    </div>
  );
}

/** The log, followed live (server-sent events) until the build ends; grouped by step, searchable, downloadable. */
function Log({ session, build }: { session: Session; build: Build }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setEnded(false);
    const seen = new Set<string>();
    followEvents(
      `/api/v1/builds/${encodeURIComponent(build.id)}/logs?follow=true`,
      session.token,
      (event, data) => {
        if (event === 'line') {
          const line = JSON.parse(data) as LogLine;
          if (seen.has(line.id)) return;
          seen.add(line.id);
          setLines((ls) => [...ls, line]);
        } else if (event === 'status') setEnded(true);
      },
      abort.signal,
    )
      .then(() => setEnded(true))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => abort.abort();
  }, [build.id, session.token]);
  const groups = useMemo(() => {
    const needle = search.toLowerCase();
    const shown = needle ? lines.filter((l) => l.text.toLowerCase().includes(needle)) : lines;
    const out: Array<{ key: string; lines: LogLine[] }> = [];
    for (const l of shown) {
      const key = `${l.step}${l.attempt > 1 ? ` (attempt ${l.attempt})` : ''}`;
      if (out[out.length - 1]?.key !== key) out.push({ key, lines: [] });
      out[out.length - 1].lines.push(l);
    }
    return out;
  }, [lines, search]);
  const download = async () => {
    const res = await fetch(`/api/v1/builds/${encodeURIComponent(build.id)}/logs?format=text`, { headers: { Authorization: `Bearer ${session.token}` } });
    const url = URL.createObjectURL(await res.blob());
    const a = Object.assign(document.createElement('a'), { href: url, download: `build-${build.id}.log` });
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <div className="panel">
      <h2>
        Log <span className="hint">{ended ? `${lines.length} lines` : `following… ${lines.length} lines`}</span>
      </h2>
      <div className="inline">
        <label>
          Search the log <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <button type="button" onClick={() => void download()}>
          Download
        </button>
      </div>
      <Alert text={error} />
      <div className="log" role="log" aria-live="polite" data-testid="log">
        {groups.map((g, gi) => (
          <section key={`${g.key}-${gi}`}>
            <h3>{g.key}</h3>
            <pre>
              {g.lines.map((l) => (
                <div key={l.id} className={`line line-${l.stream}`}>
                  <Ansi text={l.text} />
                </div>
              ))}
            </pre>
          </section>
        ))}
      </div>
    </div>
  );
}

/** `[stage 2/4] RUN make` and `[2/3] COPY …` in Dockerfile order: stage, then step; BuildKit's internal vertices first. */
function stageOrder(name: string): number {
  const m = /^\[(?:(\S+) )?(\d+)\/(\d+)\]/.exec(name);
  if (!m) return 0;
  const stage = m[1] ? m[1].replace(/\D/g, '') || '0' : '0';
  return Number(stage) * 1000 + Number(m[2]);
}
