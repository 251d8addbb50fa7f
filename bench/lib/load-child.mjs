// The load generator, in its own process so that it and the socket.io
// receivers (in the parent) do not share one event loop. Driven over IPC:
// the parent sends one job, this process runs autocannon and answers with
// the summary and the ids of every 2xx response.
import autocannon from 'autocannon';

process.once('message', async (job) => {
  const { url, connections, duration, pipelining, pairs, tag } = job;
  const ids = [];
  const statuses = {};
  let seq = 0;
  const cpuBefore = process.cpuUsage();
  const result = await autocannon({
    url,
    connections,
    pipelining,
    duration,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        path: '/api/messages',
        setupRequest: (request) => {
          const n = seq++;
          const pair = pairs[n % pairs.length];
          request.headers = {
            'content-type': 'application/json',
            authorization: `Bearer ${pair.token}`,
          };
          request.body = JSON.stringify({
            to: pair.to,
            body: `${tag}|${n}|throughput benchmark message from ${pair.from}`,
          });

          return request;
        },
        onResponse: (status, body) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status >= 200 && status < 300) {
            try {
              ids.push(JSON.parse(body).id);
            } catch {
              ids.push(null);
            }
          }
        },
      },
    ],
  });
  const cpu = process.cpuUsage(cpuBefore);
  process.send(
    {
      summary: {
        duration: result.duration,
        start: result.start,
        finish: result.finish,
        total: result.requests.total,
        sent: result.requests.sent,
        ok: result['2xx'],
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statuses,
        latency: {
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
          mean: result.latency.mean,
        },
        rpsAverage: result.requests.average,
        loadCpuSeconds: (cpu.user + cpu.system) / 1e6,
      },
      ids,
    },
    () => process.exit(0),
  );
});
