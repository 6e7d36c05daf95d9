/**
 * Where nothing listens, so a connection is refused at once: port 2 of the loopback address. A
 * fixed port below 1024 rather than one freed after a bind, which another test process binding
 * port 0 could be handed meanwhile; and not port 1, which fetch refuses to use ("bad port").
 */
export const CLOSED_PORT_URL = 'http://127.0.0.1:2';
