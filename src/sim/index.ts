/**
 * The KMS simulator: a local KMS endpoint speaking the real AWS JSON 1.1 wire protocol, with
 * custom key stores, their connection state machine, eventual consistency, the request quota,
 * real symmetric crypto and injected faults, per account and Region, plus STS's GetCallerIdentity
 * and AssumeRole (AWS Query protocol) and a control API under `/_sim/`.
 * See docs/simulator.md.
 */
export { startKmsSimulator, type RunningSimulator } from './server';
export {
  KMS_STORE_LIMIT,
  SimulatorOptionsError,
  PROFILES,
  type SimulatorOptions,
  type ProfileName,
} from './config';
export {
  SimulatorControl,
  SimulatorControlError,
  type SimAccessKey,
  type SimAlias,
  type SimAliasInput,
  type SimCall,
  type SimCluster,
  type SimClusterInput,
  type SimClusterState,
  type SimEkm,
  type SimEkmHealthStatus,
  type SimHsm,
  type SimHsmInput,
  type SimHsmState,
  type SimPartitionFilter,
  type SimXksFailure,
  type SimXksProxy,
  type SimXksProxyPatch,
  type SimCallFilter,
  type SimKey,
  type SimKeyInput,
  type SimPartitionFields,
  type SimRole,
  type SimRoleInput,
  type SimSession,
  type SimConfig,
  type SimConfigPatch,
  type SimFault,
  type SimFaultInput,
  type SimStore,
  type SimStoreDetails,
  type SimStoreInput,
  type SimStorePatch,
  type SimStoreType,
  type SimTimings,
} from './control-client';
export {
  CONNECTION_ERROR_CODES_BY_TYPE,
  CUSTOM_KEY_STORE_OPERATIONS,
  KMS_OPERATIONS,
  type KmsOperation,
} from './model';
export { SIMULATED_USER_NAME, STS_OPERATIONS, STS_VERSION, type StsOperation } from './sts-api';
