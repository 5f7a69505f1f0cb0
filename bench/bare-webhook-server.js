// The baseline of the webhook benchmark: a bare Node http server that only verifies GitHub's HMAC and parses JSON.
//   node bench/bare-webhook-server.js <port> <secret>
const http = require('node:http');
const { createHmac, timingSafeEqual } = require('node:crypto');

const [port, secret] = process.argv.slice(2);
http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const header = String(req.headers['x-hub-signature-256'] || '');
      const given = Buffer.from(header.slice(7), 'hex');
      const expected = createHmac('sha256', secret).update(body).digest();
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        res.writeHead(401, { 'content-length': 0 }).end();
        return;
      }
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-length': 0 }).end();
        return;
      }
      res.writeHead(202, { 'content-type': 'application/json', 'content-length': 11 }).end('{"ok":true}');
    });
  })
  .listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
