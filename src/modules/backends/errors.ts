// The backends concept's own failures. Validation, conflicts and refusals are the shared
// domain errors (src/errors.ts); what is here never reaches a client: it stops the server
// or the CLI with a message for the operator.

/**
 * SECRETS_KEY cannot serve the stored credentials: it is missing, or it is not the key they
 * were sealed with (or a sealed value was tampered with). Nothing decrypted is usable then,
 * so the server refuses to start rather than fail every sync later.
 */
export class SecretsKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretsKeyError';
  }
}
