/** The interruption matrix: kms-failure in every phase (see matrix-suite.ts and cell.ts). */
import { interruptionMatrix } from './matrix-suite';

interruptionMatrix('kms-failure');
