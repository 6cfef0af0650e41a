import { USAGE } from '../group-server/options.js';
import type { Command } from './cli-common.js';

export const groupServerCommand: Command = {
  name: 'group-server',
  summary: "run a group server: the groups' certificate authority and web pages",
  usage: USAGE,
  async run(argv) {
    const { runGroupServer } = await import('../group-server/main.js');
    return runGroupServer(argv);
  },
};
