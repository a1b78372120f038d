// BullMQ peer for courier-bench: the same request shape as Courier's courier mode, done the
// BullMQ way. F client loops each do `queue.add` -> `job.waitUntilFinished(queueEvents)` (the
// frontend's create -> long-poll GET), and one Worker with concurrency F runs a trivial job that
// returns a model list (the daemon's claim -> report).
//
// Protocol with courier-bench (one JSON object per line on stdout):
//   {"event":"ready"}        queue, worker and events are connected; waits for a line on stdin
//                            so the harness can snapshot Redis and CPU counters first
//   {"event":"progress",...} once a second while the load runs
//   {"event":"result",...}   once, after the load stopped and in-flight jobs drained; then exits
//
// Usage: node bench.mjs --redis redis://127.0.0.1:PORT --concurrency F
//                       (--duration S | --requests N) [--work-ms W] [--queue NAME]

import { Queue, QueueEvents, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { createInterface } from 'node:readline';

function parseArgs(argv) {
  const out = { redis: '', concurrency: 32, duration: 10, requests: 0, workMs: 0, queue: '' };
  for (let i = 2; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--redis': out.redis = value; i++; break;
      case '--concurrency': out.concurrency = Number(value); i++; break;
      case '--duration': out.duration = Number(value); i++; break;
      case '--requests': out.requests = Number(value); i++; break;
      case '--work-ms': out.workMs = Number(value); i++; break;
      case '--queue': out.queue = value; i++; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!out.redis) throw new Error('--redis is required');
  if (!(out.concurrency >= 1)) throw new Error('--concurrency must be >= 1');
  if (!out.queue) out.queue = `courier-bench-${process.pid}-${Date.now()}`;
  return out;
}

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Latencies are kept in microseconds; the cap bounds memory on very long runs (the harness sees
// `dropped_samples` and says so).
const kMaxSamples = 5_000_000;
// A job that has not finished after this long counts as a timeout (same bound as Courier's
// long-poll: the client would give up and report an error).
const kJobTtlMs = 30_000;

async function main() {
  const opts = parseArgs(process.argv);
  // BullMQ wants maxRetriesPerRequest: null on every connection it blocks on.
  const connect = () => new IORedis(opts.redis, { maxRetriesPerRequest: null });
  const queueConn = connect();
  const workerConn = connect();
  const eventsConn = connect();

  const queue = new Queue(opts.queue, { connection: queueConn });
  const queueEvents = new QueueEvents(opts.queue, { connection: eventsConn });
  const models = { models: [{ id: 'model-a', label: 'Model A' }, { id: 'model-b', label: 'B' }] };
  const worker = new Worker(
    opts.queue,
    async () => {
      if (opts.workMs > 0) await sleep(opts.workMs);
      return models;
    },
    { connection: workerConn, concurrency: opts.concurrency },
  );
  worker.on('error', () => {});
  // Every waitUntilFinished adds a 'closing' listener on the queue and two on the events: F at
  // once is expected, not a leak.
  queue.setMaxListeners(opts.concurrency * 2 + 16);
  queueEvents.setMaxListeners(opts.concurrency * 4 + 16);
  await Promise.all([queue.waitUntilReady(), worker.waitUntilReady(), queueEvents.waitUntilReady()]);

  emit({ event: 'ready', queue: opts.queue });
  const rl = createInterface({ input: process.stdin });
  await new Promise((resolve) => {
    rl.once('line', resolve);
    rl.once('close', resolve);
  });
  rl.close();

  const latencies = [];
  let dropped = 0;
  let completed = 0;
  let started = 0;
  const errors = {};
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const deadline = t0 + BigInt(Math.round(opts.duration * 1e9));
  const moreToStart = () =>
    opts.requests > 0 ? started < opts.requests : process.hrtime.bigint() < deadline;

  const jobOptions = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };
  async function clientLoop() {
    while (moreToStart()) {
      started++;
      const begin = process.hrtime.bigint();
      try {
        const job = await queue.add('model_list', {}, jobOptions);
        await job.waitUntilFinished(queueEvents, kJobTtlMs);
        const us = Number((process.hrtime.bigint() - begin) / 1000n);
        if (latencies.length < kMaxSamples) latencies.push(us);
        else dropped++;
        completed++;
      } catch (err) {
        const kind = /timed out/.test(String(err && err.message)) ? 'timeout' : 'job_error';
        errors[kind] = (errors[kind] || 0) + 1;
      }
    }
  }

  const progress = setInterval(() => {
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
    emit({ event: 'progress', elapsed_s: elapsed, completed });
  }, 1000);
  await Promise.all(Array.from({ length: opts.concurrency }, () => clientLoop()));
  clearInterval(progress);

  const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  emit({
    event: 'result',
    queue: opts.queue,
    bullmq_version: (await import('bullmq/package.json', { with: { type: 'json' } })
      .then((m) => m.default.version)
      .catch(() => 'unknown')),
    completed,
    errors,
    elapsed_s: elapsedS,
    cpu_user_us: cpu.user,
    cpu_system_us: cpu.system,
    dropped_samples: dropped,
    latencies_us: latencies,
  });

  await worker.close();
  await queueEvents.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  for (const c of [queueConn, workerConn, eventsConn]) c.disconnect();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bullmq bench failed: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
