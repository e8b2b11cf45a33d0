/** `secure-mode/sign`: the signing package, re-exported for those who install the server. */
export * from 'secure-mode-sign';
