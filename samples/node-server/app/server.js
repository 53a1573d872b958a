// Answers /, /api/greet?name=X and /api/time; uses a local npm-style package and node's own modules.
const http = require('http');
const url = require('url');
const greeter = require('greeter');

const server = http.createServer((req, res) => {
  const u = url.parse(req.url, true);
  if (u.pathname === '/') {
    res.writeHead(200, {'Content-Type': 'text/plain'});
    return res.end('node sample\n');
  }
  if (u.pathname === '/api/greet') {
    res.writeHead(200, {'Content-Type': 'application/json'});
    return res.end(JSON.stringify({greeting: greeter.greet(u.query.name || 'world')}));
  }
  res.writeHead(404, {'Content-Type': 'text/plain'});
  res.end('not found\n');
});
server.listen(3000, () => console.log('listening on 3000'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
