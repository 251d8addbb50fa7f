// Types of the benchmark's load client, for tests that drive it.
export declare class ScramKeyCache {
  hits: number;
  misses: number;
  keys(
    password: string,
    salt: string,
    iterations: number,
  ): Promise<{ clientKey: Buffer; storedKey: Buffer; serverKey: Buffer }>;
}

export interface XmppLoadClientOptions {
  host: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  starttls?: boolean;
  mechanism?: 'SCRAM-SHA-1' | 'PLAIN';
  resource?: string;
  keyCache: ScramKeyCache;
  timeoutMs?: number;
  /** Enables XEP-0198 stream management and asks for an ack after every that many stanzas. */
  ackEvery?: number;
}

/** XEP-0198 counters of a load client with stream management. */
export interface LoadClientSmState {
  inbound: number;
  sent: number;
  acked: number;
  requested: number;
  answered: number;
  acksSent: number;
}

export declare class XmppLoadClient {
  constructor(options: XmppLoadClientOptions);
  readonly jid: string;
  fullJid: string | undefined;
  closed: boolean;
  onStanza: ((xml: string) => void) | undefined;
  onClosed: ((error: Error) => void) | undefined;
  sm: LoadClientSmState | undefined;
  login(): Promise<string>;
  sendRaw(xml: string): void;
  sendMessage(to: string, body: string): void;
  close(): void;
  destroy(): void;
}

export declare function elementName(xml: string): string;
export declare function attrOf(xml: string, name: string): string | undefined;
export declare function childText(xml: string, name: string): string | undefined;
export declare function escapeXml(text: string): string;
