// The upstream behind the browser tests' route: answers every request with
// what it saw, as JSON {"method","path","headers":{lower-case name: value}},
// so a test can read which identity headers the edge passed on.
// Usage: node echo_upstream.mjs <port>   (prints "listening <port>" when ready)
import http from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`echo_upstream: invalid port '${process.argv[2] ?? ''}'`);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(body);
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
