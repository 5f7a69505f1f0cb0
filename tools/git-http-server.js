#!/usr/bin/env node
// A smart-HTTP git server for loopback: `git http-backend` behind node's http server, optional basic auth.
//   node tools/git-http-server.js <repos root> [port] [user:password]
// Repositories under <root> are served at http://127.0.0.1:<port>/<path>.git; pushes are allowed.
const http = require('node:http');
const { spawn } = require('node:child_process');

function startGitServer({ root, port = 0, auth = null, host = '127.0.0.1' }) {
  const server = http.createServer((req, res) => {
    if (auth) {
      const expected = 'Basic ' + Buffer.from(auth).toString('base64');
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="kiln-test-git"' });
        return res.end('Authentication required\n');
      }
    }
    const url = new URL(req.url, 'http://localhost');
    const env = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers['content-type'] || '',
      GIT_PROTOCOL: req.headers['git-protocol'] || '',
      REMOTE_USER: auth ? auth.split(':')[0] : 'anonymous',
      REMOTE_ADDR: req.socket.remoteAddress || '',
      HTTP_CONTENT_ENCODING: req.headers['content-encoding'] || '',
    };
    const cgi = spawn('git', ['http-backend'], { env });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk) => {
      if (headersDone) return res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = parseInt(value, 10);
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.stderr.on('data', () => undefined);
    cgi.on('close', () => res.end());
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

module.exports = { startGitServer };

if (require.main === module) {
  const [root, port, auth] = process.argv.slice(2);
  if (!root) {
    process.stderr.write('usage: node tools/git-http-server.js <repos root> [port] [user:password]\n');
    process.exit(2);
  }
  startGitServer({ root, port: port === undefined ? 9418 : Number(port), auth: auth || null }).then((s) => {
    process.stdout.write(`serving ${root} on http://127.0.0.1:${s.address().port}/\n`);
  });
}
