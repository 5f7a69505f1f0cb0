// Prints the messages Kiln's consumers parked because they failed their schema (stream KILN_PARKED), oldest first:
// which consumer refused it, what it was (subject, stream sequence), why, and its body (cut at 500 characters).
// Usage: node tools/parked.js [consumer]   (scripts/kiln parked [consumer] passes the operator's credentials)
const { connect } = require('nats');

async function main() {
  const consumer = process.argv[2];
  const nc = await connect({ servers: process.env.KILN_NATS_URL, user: process.env.KILN_NATS_USER, pass: process.env.KILN_NATS_PASSWORD, name: 'kiln-parked' });
  try {
    const jsm = await nc.jetstreamManager();
    let info;
    try {
      info = await jsm.streams.info('KILN_PARKED');
    } catch {
      console.log('nothing parked (no KILN_PARKED stream yet)');
      return;
    }
    const filter = consumer ? `kiln.parked.v1.${consumer}` : 'kiln.parked.v1.>';
    const total = info.state.messages;
    if (total === 0) return console.log('nothing parked');
    const c = await nc.jetstream().consumers.get('KILN_PARKED', { filterSubjects: [filter] });
    const decoder = new TextDecoder();
    let shown = 0;
    for (;;) {
      const m = await c.next({ expires: 1000 });
      if (!m) break;
      const h = (k) => m.headers?.get(k) ?? '';
      const body = decoder.decode(m.data);
      console.log(
        `${new Date(m.info.timestampNanos / 1e6).toISOString()} consumer ${h('Kiln-Parked-Consumer')} refused ${h('Kiln-Parked-Subject')} (${h('Kiln-Parked-Stream')} #${h('Kiln-Parked-Seq')})`,
      );
      console.log(`  why:  ${h('Kiln-Parked-Reason')}`);
      console.log(`  body: ${body.length > 500 ? `${body.slice(0, 500)}…` : body}`);
      shown++;
    }
    console.log(`${shown} parked message(s)${consumer ? ` of ${consumer}` : ''}`);
  } finally {
    await nc.close();
  }
}

main().catch((err) => {
  console.error(`kiln parked: ${err.message}`);
  process.exit(1);
});
