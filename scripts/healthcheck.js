#!/usr/bin/env node
/**
 * The container health check of the keystore-maint image (Dockerfile HEALTHCHECK, and the
 * compose services). Plain Node.js with no dependencies and no build step: it must run in well
 * under a second every 30 seconds, and must still answer when the application itself is broken.
 *
 * What it checks depends on what the container runs (read from the process's own command line):
 *
 * - `worker`: the worker process is alive (not a zombie, not stopped) AND the Temporal frontend
 *   it uses answers a TCP connect. Address: TEMPORAL_ADDRESS, else the `address` of the TOML
 *   profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), else localhost:7233 — the same order the
 *   worker resolves it in.
 * - `sim`: the KMS simulator answers `GET /_sim/health` on its port (`--port`, default 4566).
 * - anything else: the process is alive.
 *
 * Why not more: a "healthy" worker can still be unable to poll (a wrong namespace, a bad API key,
 * an mTLS certificate the server rejects). Those are Temporal-level facts, visible from outside as
 * "no pollers on the task queue" (see docs/operations.md, monitoring), and restarting the
 * container would not fix any of them. This check answers the question Docker can act on: is the
 * process running, and does the network path to Temporal exist?
 *
 * The process is PID 1 (the image's ENTRYPOINT is node); when an init runs as PID 1 instead
 * (`docker run --init`, compose `init: true`), the keystore-maint process is found under /proc.
 * KEYSTORE_MAINT_HEALTHCHECK_PID names the process explicitly (tests, other supervisors).
 *
 * Exit 0 = healthy, 1 = unhealthy; one line on stdout says why (Docker keeps it in `docker inspect`).
 */
'use strict';

/* eslint-disable @typescript-eslint/no-require-imports -- plain CommonJS on purpose: no build step */
const { readFileSync, readdirSync } = require('node:fs');
const { request } = require('node:http');
const { connect } = require('node:net');
/* eslint-enable @typescript-eslint/no-require-imports */

const TIMEOUT_MS = Number(process.env.KEYSTORE_MAINT_HEALTHCHECK_TIMEOUT_MS) || 3000;
const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
const DEFAULT_SIM_PORT = 4566;

/** argv of a process, or undefined where /proc is not available (e.g. macOS). */
function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

const ENTRY_POINT = /keystore-maint(\.js)?$|src[/\\]cli\.[jt]s$/;

function isKeystoreMaint(argv) {
  return argv !== undefined && argv.some((arg) => ENTRY_POINT.test(arg));
}

/** The subcommand (`worker`, `sim`, ...): the first word after the entry point that is not an option. */
function subcommand(argv) {
  const entry = argv.findIndex((arg) => ENTRY_POINT.test(arg));
  return argv.slice(entry + 1).find((arg) => !arg.startsWith('-'));
}

/** The pid of the keystore-maint process this container runs. */
function targetPid() {
  const explicit = process.env.KEYSTORE_MAINT_HEALTHCHECK_PID;
  if (explicit) return Number(explicit);
  if (isKeystoreMaint(commandLine(1))) return 1;
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return 1;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || pid === 1) continue;
    if (isKeystoreMaint(commandLine(pid))) return pid;
  }
  return 1;
}

/** Why the process is not alive, or undefined when it is. */
function notAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to another user; that is alive.
    if (err && err.code !== 'EPERM') return `process ${pid} does not exist`;
  }
  let stat;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The state follows the command name in parentheses, which may itself contain spaces.
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  if (state === 'Z' || state === 'X') return `process ${pid} has exited (state ${state})`;
  if (state === 'T' || state === 't') return `process ${pid} is stopped (state ${state})`;
  return undefined;
}

/** `host:port`, `[v6]:port` or `host` → { host, port }. */
function parseAddress(address, defaultPort) {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (v6) return { host: v6[1], port: Number(v6[2] ?? defaultPort) };
  const colon = address.lastIndexOf(':');
  if (colon > 0 && address.indexOf(':') === colon) {
    return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  }
  return { host: address, port: defaultPort };
}

/** The `address` of the selected profile in the TOML client config, if there is one. */
function addressFromTomlProfile() {
  const file = process.env.TEMPORAL_CONFIG_FILE;
  if (!file) return undefined;
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const profile = process.env.TEMPORAL_PROFILE || 'default';
  let inProfile = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    const table = /^\[(.+)\]$/.exec(line);
    if (table) {
      inProfile = table[1].replace(/["'\s]/g, '') === `profile.${profile}`;
      continue;
    }
    const address = inProfile && /^address\s*=\s*["']([^"']+)["']$/.exec(line);
    if (address) return address[1];
  }
  return undefined;
}

function tcpReachable(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(`no answer within ${TIMEOUT_MS} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err) => done(err.code || err.message));
  });
}

function httpOk(url) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.once('error', (err) => resolve(err.code || err.message));
    req.end();
  });
}

function optionValue(argv, name) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

async function check() {
  const pid = targetPid();
  const dead = notAlive(pid);
  if (dead) return { healthy: false, message: dead };
  const argv = commandLine(pid) ?? [];
  const command = subcommand(argv);
  if (command === 'sim') {
    const port = Number(optionValue(argv, '--port') ?? DEFAULT_SIM_PORT);
    const url = `http://127.0.0.1:${port}/_sim/health`;
    const problem = await httpOk(url);
    return problem
      ? { healthy: false, message: `KMS simulator at ${url}: ${problem}` }
      : { healthy: true, message: `KMS simulator (pid ${pid}) answers at ${url}` };
  }
  // Without /proc the command is unknown: check what matters most, the worker's path to Temporal.
  if (command === 'worker' || argv.length === 0) {
    const address =
      process.env.TEMPORAL_ADDRESS?.trim() || addressFromTomlProfile() || DEFAULT_TEMPORAL_ADDRESS;
    const { host, port } = parseAddress(address, 7233);
    const problem = await tcpReachable(host, port);
    return problem
      ? {
          healthy: false,
          message: `worker pid ${pid} alive, but Temporal at ${address} is unreachable: ${problem}`,
        }
      : { healthy: true, message: `worker pid ${pid} alive; Temporal at ${address} reachable` };
  }
  return { healthy: true, message: `process ${pid} alive (${argv.slice(1).join(' ')})` };
}

check().then(
  ({ healthy, message }) => {
    console.log(`${healthy ? 'healthy' : 'UNHEALTHY'}: ${message}`);
    process.exitCode = healthy ? 0 : 1;
  },
  (err) => {
    console.log(`UNHEALTHY: health check failed: ${err && err.message ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
