/** The workflow bundle's entry: every workflow type the worker registers. */
export { keyStoreMaintenance } from './maintenance';
export { keyStoreFleetMaintenance } from './fleet';
