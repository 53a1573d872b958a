// Answers /, /api/greet?name=X and /api/report.csv; uses local npm-style packages and node's own modules.
// The report's package is required only when the route is asked for (the probes never ask), as apps do
// with heavy, rarely used dependencies.
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
  if (u.pathname === '/api/report.csv') {
    const report = require('reporter');
    res.writeHead(200, {'Content-Type': 'text/csv'});
    return res.end(report.csv([{name: 'greeting', value: greeter.greet('report')}]));
  }
  res.writeHead(404, {'Content-Type': 'text/plain'});
  res.end('not found\n');
});
server.listen(3000, () => console.log('listening on 3000'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
