// Engine benchmark, ONNX Runtime side (run by bench/engine/run.sh beside
// build/inferd-engine-bench, with the same options and the same output line).
//
//   node bench/engine/ort_bench.js --model M.onnx --input X.bin --shape D1,D2,.. --batch B
//        [--threads T] [--warmup W] [--runs R] [--budget-ms MS] [--output OUT.bin]
//
// The session is ONNX Runtime's CPU provider from the onnxruntime-node package, with
// intraOpNumThreads = T, interOpNumThreads = 1, graphOptimizationLevel 'all' and
// sequential execution. Each timed run calls the native session's run() synchronously
// (the binding the public InferenceSession.run wraps in a setImmediate), so the time is
// ONNX Runtime's run plus the N-API conversion of the input and output tensors (a few
// microseconds), without a trip through the event loop. Nothing is subtracted.
//
// rss_growth_bytes is the peak resident set of this process during the warm-up runs
// (VmHWM, reset through /proc/self/clear_refs before the first run) minus the resident set
// then, as inferd-engine-bench measures it;
// arena_peak_bytes is -1 (ONNX Runtime's arena is not visible from JavaScript).
'use strict';

const fs = require('fs');
const path = require('path');

const MIN_RUNS = 5;

function die(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { threads: 1, warmup: 3, runs: 50, budgetMs: 0 };
  for (let i = 2; i < argv.length; i += 2) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) die(`${a} needs a value`);
    switch (a) {
      case '--model': o.model = v; break;
      case '--input': o.input = v; break;
      case '--output': o.output = v; break;
      case '--shape': o.shape = v.split(',').map(Number); break;
      case '--batch': o.batch = Number(v); break;
      case '--threads': o.threads = Number(v); break;
      case '--warmup': o.warmup = Number(v); break;
      case '--runs': o.runs = Number(v); break;
      case '--budget-ms': o.budgetMs = Number(v); break;
      default: die(`unknown option ${a}`);
    }
  }
  if (!o.model || !o.input || !o.shape || !o.batch) die('usage: see the header of ort_bench.js');
  return o;
}

function statusBytes(key) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${key}:\\s*(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : -1;
}

function resetRssPeak() {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch (e) {
    // not Linux, or not allowed: the growth then counts from process start
  }
}

function writeOutputs(file, session, results) {
  const parts = [];
  for (const name of session.outputNames) {
    const t = results[name];
    const n = t.data.length;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(n);
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = Number(t.data[i]);
    parts.push(head, Buffer.from(f.buffer));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function main() {
  const o = parseArgs(process.argv);
  const ortDir = path.join(__dirname, 'node_modules', 'onnxruntime-node');
  const ort = require(ortDir);
  const { binding, initOrt } = require(path.join(ortDir, 'dist', 'binding'));

  const sessionOptions = {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  initOrt();
  const session = new binding.InferenceSession();
  session.loadModel(o.model, sessionOptions);
  const inputNames = session.inputMetadata.map((m) => m.name);
  const outputNames = session.outputMetadata.map((m) => m.name);
  if (inputNames.length !== 1) die(`${o.model}: the benchmark feeds models with exactly one input`);

  const perSample = o.shape.reduce((a, b) => a * b, 1);
  const n = perSample * o.batch;
  const raw = fs.readFileSync(o.input);
  if (raw.length < n * 4) die(`${o.input} holds fewer samples than the batch`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = raw.readFloatLE(i * 4);
  const feeds = { [inputNames[0]]: new ort.Tensor('float32', data, [o.batch, ...o.shape]) };
  const fetches = {};
  for (const name of outputNames) fetches[name] = null;
  const runOptions = {};

  resetRssPeak();
  const rssBase = statusBytes('VmRSS');
  let results;
  for (let i = 0; i < o.warmup; i++) results = session.run(feeds, fetches, runOptions);
  // Memory is measured over the warm-up (the first inferences), before garbage from the
  // timed runs' result objects piles up in the JavaScript heap.
  let rssPeak = o.warmup ? statusBytes('VmHWM') : -1;
  const ms = [];
  const start = process.hrtime.bigint();
  while (ms.length < o.runs) {
    const t0 = process.hrtime.bigint();
    results = session.run(feeds, fetches, runOptions);
    const t1 = process.hrtime.bigint();
    ms.push(Number(t1 - t0) / 1e6);
    if (o.budgetMs > 0 && ms.length >= MIN_RUNS && Number(t1 - start) / 1e6 >= o.budgetMs) break;
  }
  if (!o.warmup) rssPeak = statusBytes('VmHWM');

  if (o.output) writeOutputs(o.output, { outputNames }, results);
  ms.sort((a, b) => a - b);
  const runs = ms.length;
  const median = runs % 2 ? ms[(runs - 1) / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
  const p90 = ms[Math.min(Math.floor((runs * 9) / 10), runs - 1)];
  console.log(`runs=${runs} median_ms=${median.toFixed(4)} p90_ms=${p90.toFixed(4)} ` +
              `arena_peak_bytes=-1 rss_growth_bytes=${rssBase < 0 || rssPeak < 0 ? -1 : rssPeak - rssBase} ` +
              `threads=${o.threads}`);
}

main();
