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
}

export declare class XmppLoadClient {
  constructor(options: XmppLoadClientOptions);
  readonly jid: string;
  fullJid: string | undefined;
  closed: boolean;
  onStanza: ((xml: string) => void) | undefined;
  onClosed: ((error: Error) => void) | undefined;
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
