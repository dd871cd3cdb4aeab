import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Worker } from "node:worker_threads";
import { InferenceSession } from "onnxruntime-node";
import { cpuBetween, describeThread, processTree, readCpu, splitCpu, threadRole, threadTimes, type CpuReading, type ThreadCpu } from "../../bench/thread-cpu.js";
import { irisModelDir } from "../helpers/server.js";

const linuxOnly = { skip: existsSync("/proc/self/task") ? false : "reads /proc (Linux)" };
/** Node 24 names its threads (MainThread, WorkerThread); Node 22 leaves every one named "node". */
const namedThreads = {
  skip: linuxOnly.skip || (readFileSync("/proc/thread-self/comm", "utf8").trim() === "MainThread" ? false : "this Node does not name its threads"),
};
const mainPid = 1000;
const thread = (tid: number, name: string, started: number, cpuMs = 0): ThreadCpu => ({ pid: mainPid, tid, name, started, cpuMs });

/** A toolkit-like process: main thread, V8 and libuv threads, one worker, the worker's and the main thread's ONNX threads. */
const threads: ThreadCpu[] = [
  thread(1000, "MainThread", 10, 400),
  thread(1002, "V8Worker", 10, 30),
  thread(1005, "libuv-worker", 12, 2),
  thread(1010, "WorkerThread", 15, 300),
  thread(1011, "WorkerThread", 30, 50),
  thread(1012, "MainThread", 40, 7),
];

describe("thread roles", () => {
  test("the main thread is the HTTP thread, the first workers started are JavaScript workers, later ones and the main thread's namesakes ONNX Runtime's", () => {
    const roles = threads.map((candidate) => threadRole(candidate, threads, mainPid, 1));
    assert.deepEqual(roles, ["http", "other", "other", "worker", "onnx", "onnx"]);
  });

  test("with no JavaScript workers every WorkerThread is ONNX Runtime's; workers that started in the same clock tick are told apart by thread id", () => {
    assert.equal(threadRole(thread(1010, "WorkerThread", 15), threads, mainPid, 0), "onnx");
    const sameTick = [thread(1000, "MainThread", 10), thread(1021, "WorkerThread", 15), thread(1020, "WorkerThread", 15), thread(1030, "WorkerThread", 16)];
    assert.deepEqual(
      sameTick.map((candidate) => threadRole(candidate, sameTick, mainPid, 2)),
      ["http", "worker", "worker", "onnx"],
    );
  });

  test("a thread is described by its role, or for the other threads by what its name says", () => {
    assert.equal(describeThread(threads[4] as ThreadCpu, threads, mainPid, 1), "ONNX Runtime intra-op thread (WorkerThread, tid 1011)");
    assert.equal(describeThread(threads[1] as ThreadCpu, threads, mainPid, 1), "V8 platform: GC, compilation (V8Worker, tid 1002)");
    assert.equal(describeThread(thread(1040, "mystery", 50), threads, mainPid, 1), "mystery, tid 1040");
  });
});

describe("CPU over a window", () => {
  const reading = (ns: Record<number, number>, machine?: { busy: number; total: number }): CpuReading => ({
    server: Object.entries(ns).map(([tid, value]) => ({ pid: mainPid, tid: Number(tid), name: Number(tid) === mainPid ? "MainThread" : "WorkerThread", ns: value, started: Number(tid) })),
    loadGenerator: [{ pid: 2000, tid: 2000, name: "MainThread", ns: 5e6, started: 1 }],
    ...(machine === undefined ? {} : { machine }),
  });

  test("each thread's CPU is its time after less its time before; a thread started in between counts from zero", () => {
    const window = cpuBetween(reading({ 1000: 1e6, 1010: 2e6 }, { busy: 100, total: 400 }), reading({ 1000: 4e6, 1010: 2.5e6, 1011: 3e6 }, { busy: 250, total: 600 }));
    assert.deepEqual(
      window.server.map(({ tid, cpuMs }) => [tid, cpuMs]),
      [
        [1000, 3],
        [1010, 0.5],
        [1011, 3],
      ],
    );
    assert.equal(window.loadGenerator[0]?.cpuMs, 0);
    assert.equal(window.machineBusyShare, 0.75);
  });

  test("without /proc/stat readings the machine's share is absent", () => {
    assert.equal(cpuBetween(reading({ 1000: 0 }), reading({ 1000: 1e6 })).machineBusyShare, undefined);
  });

  test("a Node server's CPU is summed by role; a server of several processes only in all", () => {
    const window = { server: threads, loadGenerator: [thread(2000, "MainThread", 1, 120)], machineBusyShare: 0.8 };
    const split = splitCpu(window, { connections: 8, cores: 2, mainPid, javascriptWorkers: 1 });
    assert.deepEqual(split, { connections: 8, cores: 2, serverMs: 789, loadGeneratorMs: 120, byRole: { http: 400, worker: 300, onnx: 57, other: 32 }, machineBusyShare: 0.8 });
    assert.equal(splitCpu(window, { connections: 8, cores: 2, mainPid, javascriptWorkers: undefined }).byRole, undefined);
  });

  test("a server on a Node that leaves its threads unnamed is counted only in all", () => {
    const unnamed = { server: threads.map((candidate) => ({ ...candidate, name: "node" })), loadGenerator: [], machineBusyShare: 0.8 };
    const split = splitCpu(unnamed, { connections: 8, cores: 2, mainPid, javascriptWorkers: 1 });
    assert.equal(split.serverMs, 789);
    assert.equal(split.byRole, undefined);
  });
});

describe("reading /proc", () => {
  test("this process's threads: the main thread is there and holds most of the CPU the process spends spinning on it", linuxOnly, () => {
    const before = threadTimes(process.pid).find((candidate) => candidate.tid === process.pid);
    const processBefore = process.cpuUsage();
    // Spin until the process, by its own count, has spent 50 ms of CPU, however long that takes.
    while (process.cpuUsage(processBefore).user < 50_000);
    const after = threadTimes(process.pid).find((candidate) => candidate.tid === process.pid);
    assert.ok(before !== undefined && after !== undefined);
    assert.ok(after.ns - before.ns >= 25e6, `${(after.ns - before.ns) / 1e6} ms on the main thread of 50 ms spent by the process`);
  });

  test("a process that is gone has no threads", linuxOnly, async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    await once(child, "exit");
    assert.deepEqual(threadTimes(child.pid ?? 0), []);
  });

  test("a process tree holds the roots and their children", linuxOnly, async () => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 10000)"]);
    try {
      assert.ok(processTree([process.pid]).includes(child.pid ?? 0));
      assert.deepEqual(processTree([child.pid ?? 0]), [child.pid]);
    } finally {
      child.kill();
      await once(child, "exit");
    }
  });

  test("ONNX Runtime's threads take the name of the thread that loads the session, and the worker that loads one is told from them by start order", namedThreads, async () => {
    const model = join(irisModelDir, "iris.onnx");
    const existing = new Set(threadTimes(process.pid).map((candidate) => candidate.tid));
    const workersBefore = threadTimes(process.pid).filter((candidate) => candidate.name === "WorkerThread").length;
    const session = await InferenceSession.create(model, { intraOpNumThreads: 2 });
    const worker = new Worker(
      // The worker holds its session and stays alive until terminated: a worker with nothing left to do
      // exits, and its threads would vanish before they are read.
      `const { parentPort, workerData } = require("node:worker_threads");
       require("onnxruntime-node").InferenceSession.create(workerData, { intraOpNumThreads: 2 }).then((session) => {
         globalThis.session = session;
         setInterval(() => {}, 1 << 30);
         parentPort.postMessage("loaded");
       });`,
      { eval: true, workerData: model },
    );
    try {
      await once(worker, "message");
      const reading = readCpu([process.pid]);
      const window = cpuBetween(reading, reading);
      const roles = window.server
        .filter((candidate) => !existing.has(candidate.tid))
        .map((candidate) => `${candidate.name}: ${threadRole(candidate, window.server, process.pid, workersBefore + 1)}`);
      const main = window.server.find((candidate) => candidate.tid === process.pid);
      assert.ok(main !== undefined);
      assert.ok(roles.includes(`${main.name}: onnx`), `new threads: ${roles.join(", ")}`);
      assert.equal(roles.filter((role) => role === "WorkerThread: worker").length, 1, `new threads: ${roles.join(", ")}`);
      assert.ok(roles.includes("WorkerThread: onnx"), `new threads: ${roles.join(", ")}`);
    } finally {
      await worker.terminate();
      await session.release();
    }
  });
});
