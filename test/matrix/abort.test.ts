/** The interruption matrix: abort in every phase (see matrix-suite.ts and cell.ts). */
import { interruptionMatrix } from './matrix-suite';

interruptionMatrix('abort');
