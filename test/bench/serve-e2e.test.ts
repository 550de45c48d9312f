/**
 * `pd-bench serve` end to end, as a real process: --quick --compare colocated on the tiny model
 * launches a PD deployment (router, prefill, decode) and then a colocated node, runs the same mix
 * of prompts against both, and writes the JSON results and the HTML report. Asserted: every
 * request completed with exactly the output length asked for, both runs saw the same prompts,
 * the PD run has transfer figures for each of its rooms, queue depth was sampled on every node,
 * and the HTML file holds the plots. A ShareGPT file against a colocated node asks for as many
 * tokens as the gpt turns have, counted with the model's tokenizer. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';
import { runPdBench } from './pd-bench-process.js';

const NUM_PROMPTS = 6;

test('pd-bench serve --quick --compare colocated: every request complete, JSON and HTML written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-serve-'));
  try {
    const json = join(dir, 'results.json');
    const html = join(dir, 'report.html');
    const args = ['serve', '--quick', '--compare', 'colocated', '--dataset', 'mix', '--long-input-len', '96', '--long-fraction', '0.5', '--output-len', '3-9', '--num-prompts', String(NUM_PROMPTS), '--request-rate', '50', '--slo-ttft-ms', '60000', '--json', json, '--html', html];
    const r = runPdBench(args, 60_000);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ITL p99 \(ms\)/);
    assert.match(r.stderr, /pd \[#+\] 6\/6 done, 0 failed/);

    const doc = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(doc.tool, 'pd-bench serve');
    assert.deepEqual(doc.runs.map((x: { label: string }) => x.label), ['pd', 'colocated']);
    for (const runResult of doc.runs) {
      const f = runResult.figures;
      assert.deepEqual([f.requested, f.completed, f.failed, f.lengthMismatches], [NUM_PROMPTS, NUM_PROMPTS, 0, 0], runResult.label);
      assert.equal(f.goodput.requests, NUM_PROMPTS);
      for (const key of ['ttftMs', 'itlMs', 'tpotMs', 'e2eMs']) for (const stat of ['mean', 'p50', 'p90', 'p99']) assert.equal(typeof f[key][stat], 'number', `${runResult.label} ${key}.${stat}`);
      assert.equal(runResult.requests.length, NUM_PROMPTS);
      for (const req of runResult.requests) {
        assert.equal(req.error, null);
        assert.equal(req.outputTokens, req.outputLen, `${runResult.label} request ${req.index}`);
        assert.equal(req.completionTokens, req.outputLen);
        assert.equal(req.finishReason, 'length');
      }
      const sampled = new Set(runResult.queueDepth.map((s: { node: string }) => s.node));
      assert.deepEqual([...sampled].sort(), runResult.label === 'pd' ? ['decode', 'prefill'] : ['colocated']);
    }
    const [pd, colocated] = doc.runs;
    assert.deepEqual(
      pd.requests.map((q: { outputLen: number; promptTokens: number }) => [q.outputLen, q.promptTokens]),
      colocated.requests.map((q: { outputLen: number; promptTokens: number }) => [q.outputLen, q.promptTokens]),
      'the same prompts against both',
    );
    assert.ok(pd.requests.some((q: { kind: string }) => q.kind === 'long') && pd.requests.some((q: { kind: string }) => q.kind === 'short'));
    assert.equal(pd.transfer.rooms, NUM_PROMPTS, 'warm-up rooms are not counted');
    assert.equal(pd.transfer.exposedMs.count, NUM_PROMPTS);
    assert.ok(pd.transfer.bytes > 0);
    assert.equal(colocated.transfer, null);
    // Each ratio is PD's figure over colocated's. A busy host can hand the client a colocated node's
    // tokens in one read (every gap 0 ms), and a ratio over 0 is null; TTFT is never 0.
    assert.equal(doc.comparison.ratios.ttftP50, pd.figures.ttftMs.p50 / colocated.figures.ttftMs.p50);
    const itl = colocated.figures.itlMs.p99;
    assert.equal(doc.comparison.ratios.itlP99, itl === 0 ? null : pd.figures.itlMs.p99 / itl);

    const page = readFileSync(html, 'utf8');
    assert.equal(page.match(/<svg /g)?.length, 6);
    for (const title of ['TTFT CDF', 'Inter-token latency CDF', 'E2E latency CDF', 'Output throughput', 'Queue depth over time: pd', 'Queue depth over time: colocated']) assert.ok(page.includes(title), title);
    assert.doesNotMatch(page, /https?:|<script/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pd-bench serve --dataset jsonl: ShareGPT output lengths are the gpt turns in tokens', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pd-bench-serve-'));
  try {
    const answers = ['Once upon a time there was a tiny model.', 'It said hi.'];
    const data = join(dir, 'chats.jsonl');
    writeFileSync(data, answers.map((a, i) => JSON.stringify({ conversations: [{ from: 'human', value: `tell me story ${i}` }, { from: 'gpt', value: a }] })).join('\n'));
    const json = join(dir, 'results.json');
    const r = runPdBench(['serve', '--launch', 'colocated', '--dataset', 'jsonl', '--dataset-path', data, '--num-prompts', '4', '--warmup', '0', '--json', json], 60_000);
    assert.equal(r.status, 0, r.stderr);
    const tokenizer = HfTokenizer.fromDir(await ensureDefaultModel());
    const want = new Set(answers.map((a) => tokenizer.encode(a, false).length));
    const [only] = JSON.parse(readFileSync(json, 'utf8')).runs;
    const got = only.requests.map((q: { outputLen: number; outputTokens: number }) => {
      assert.equal(q.outputTokens, q.outputLen);
      return q.outputLen;
    });
    assert.deepEqual(new Set(got), want);
    assert.equal(got.length, 4, 'two conversations reused in turn');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
