import type { Command } from './cli-common.js';

export const simCommand: Command = {
  name: 'sim',
  summary: 'run the overlay simulator (same as npm run sim)',
  usage: 'Usage: ringvpn sim [options]   (ringvpn sim --help lists them)\n',
  async run(argv) {
    // sim-main reads process.argv itself and runs on import: hand it the arguments after "sim".
    process.argv.splice(2, process.argv.length - 2, ...argv);
    await import('./sim-main.js');
    return 0;
  },
};
