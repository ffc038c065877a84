import type { Node } from "node-red";
import type { ErpAdapter } from "../lib/vendors/erp";

/** The credentials an ERP connection may hold; which ones are used depends on the system and auth. */
export interface ErpCredentials {
  user?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
  privateKey?: string;
  consumerKey?: string;
  consumerSecret?: string;
  tokenId?: string;
  tokenSecret?: string;
  secretKey?: string;
  token?: string;
}

/** The config node ERP nodes hold: one adapter (one Connection) per config node, shared by every node using it. */
export interface ErpConnectionNode extends Node<ErpCredentials> {
  /** The system the connection talks to ("netsuite"), after ERP_SYSTEM substitution. */
  system: string;
  /** The adapter; throws the configuration error if the connection could not be built. */
  adapter(): ErpAdapter;
  /** A short description for status and logs, without secrets. */
  describe(): string;
}
