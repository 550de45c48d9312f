#!/usr/bin/env node
/**
 * The `pd-node` command (package bin). Commands:
 *   pd-node [--role colocated|prefill|decode] [node flags]   serve a node (flags: node-flags.ts)
 *   pd-node router [router flags]             the PD router (flags: router-flags.ts; own parser, since
 *   pd-node --role router [router flags]      `--prefill URL [PORT]` does not fit yargs); `pd-node router`
 *                                             takes sgl-router's launch_router arguments verbatim
 *   pd-node --role registry [--registry-port] a registry alone
 *   pd-node gen-model --out DIR ...           write a random-weight model directory
 *   pd-node demo                              start a node, send one /generate, print it, stop
 *   pd-node devices [--disaggregation-ib-device LIST]   RDMA ports, which the verbs backend would use
 * Exit status: 0 on success, 2 for a usage error (bad, unknown, repeated or missing flag; the message
 * on stderr names the flag), 1 when the work itself failed.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEMO_BASE_OPTIONS, DEMO_FLAGS, runDemo } from './demo-command.js';
import { addDevicesFlags, devicesFlagsFrom, runDevices } from './devices-command.js';
import { PARSER_CONFIGURATION } from './flag-values.js';
import { addGenModelFlags, genModelFlagsFrom, runGenModel } from './gen-model-command.js';
import { addNodeFlags, nodeOptionsFrom } from './node-flags.js';
import { serveNode } from './serve-command.js';
import { addSglangNoEffectFlags, startupWarnings } from './sglang-flags.js';
import { reportCliError, withToolDefaults } from './tool-cli.js';

const report = (err: unknown, help = 'pd-node --help'): void => reportCliError('pd-node', err, help);

/** `--role X` or `--role=X` in raw argv: the router and the registry have parsers of their own. */
function roleOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--role') return argv[i + 1];
    if (argv[i].startsWith('--role=')) return argv[i].slice('--role='.length);
  }
  return undefined;
}

async function runRole(argv: string[], role: 'router' | 'registry'): Promise<void> {
  if (role === 'registry') {
    const { parseRegistryFlags, serveRegistry } = await import('./registry-command.js');
    const flags = parseRegistryFlags(argv);
    return flags === null ? undefined : serveRegistry(flags);
  }
  const { parseRouterFlags, routerHelp } = await import('./router-flags.js');
  const flags = parseRouterFlags(argv);
  if (flags.help) {
    process.stdout.write(`${routerHelp()}\n`);
    return;
  }
  const { serveRouter } = await import('./router-command.js');
  return serveRouter(flags);
}

const cli = withToolDefaults(
  yargs(hideBin(process.argv))
    .scriptName('pd-node')
    .parserConfiguration(PARSER_CONFIGURATION)
    .command(
      '$0',
      'Serve a node: SGLang (/generate) and OpenAI (/v1/...) HTTP APIs, /health, /metrics',
      (y) => addSglangNoEffectFlags(addNodeFlags(y)),
      (argv) => {
        const options = nodeOptionsFrom(argv);
        return serveNode(options, startupWarnings(argv, options));
      },
    )
    .command(
      'gen-model',
      'Write a random-weight model directory (config.json, model.safetensors, tokenizer.json)',
      (y) => addGenModelFlags(y),
      (argv) => runGenModel(genModelFlagsFrom(argv)),
    )
    .command(
      'demo',
      'Start a node on a free port, send it the SGLang docs\' /generate request, print request and response, stop',
      (y) => addNodeFlags(y, DEMO_BASE_OPTIONS, DEMO_FLAGS),
      (argv) => runDemo(nodeOptionsFrom(argv, DEMO_BASE_OPTIONS, DEMO_FLAGS)),
    )
    .command(
      'devices',
      'List the RDMA ports (state, rate, link layer, GID), which ones the verbs backend would use and why, and the --disaggregation-ib-device value',
      (y) => addDevicesFlags(y),
      (argv) => runDevices(devicesFlagsFrom(argv)),
    ),
);

const argv = hideBin(process.argv);
const role = argv[0] === 'router' ? 'router' : roleOf(argv);
try {
  if (argv[0] === 'router') await runRole(argv.slice(1), 'router');
  else if (role === 'router' || role === 'registry') await runRole(argv, role);
  else await cli.parseAsync();
} catch (err) {
  report(err, role === 'router' ? 'pd-node router --help' : undefined);
}
