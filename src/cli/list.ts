import type { CommandModule } from 'yargs';
import { presetNames } from '../machine/memory-map.js';
import { OBJECT_STRATEGIES } from '../object/registry.js';
import { PAGE_STRATEGIES } from '../page/registry.js';
import { bundledTraces } from '../trace/bundled.js';
import { GENERATORS } from '../trace/generators/index.js';
import { out } from './output.js';

/** `allocbench list`: bundled traces, generators, strategies and machines. */
export const listCommand: CommandModule = {
  handler: () => {
    out(`traces:\n${bundledTraces().map((t) => `  ${t}`).join('\n')}`);
    out(`generators:\n${Object.values(GENERATORS).map((g) => `  ${g.name.padEnd(18)} ${g.description.split('\n')[0]}`).join('\n')}`);
    out(`page strategies:   ${Object.keys(PAGE_STRATEGIES).join(', ')}`);
    out(`object strategies: ${Object.keys(OBJECT_STRATEGIES).join(', ')}`);
    out(`machines:          ${presetNames().join(', ')}, mem=SIZE, or a JSON file`);
  },
};
