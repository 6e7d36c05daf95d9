/**
 * Where nothing listens: port 1 (tcpmux) of the loopback address, so a connection is refused at
 * once. A fixed privileged port, not one freed after a bind: another test process binding port 0
 * can be handed a freed port, never this one.
 */
export const CLOSED_PORT_URL = 'http://127.0.0.1:1';
