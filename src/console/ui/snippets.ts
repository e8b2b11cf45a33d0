/**
 * Server-side code that signs a user_hash: HMAC-SHA256 of the user_id, keyed with the secret string, as lowercase
 * hex. The secret is read from an environment variable and never written into the code, so the snippets can be
 * shown, copied and pasted anywhere.
 */

export const SECRET_ENV_VAR = 'INTERCOM_IDENTITY_SECRET';

export interface Snippet {
  id: 'node' | 'python' | 'ruby' | 'php' | 'go';
  label: string;
  code: string;
}

export interface SnippetOptions {
  /** The user_id the example line signs; a real server passes the signed-in user's id. */
  userId?: string;
  envVar?: string;
}

const quoteable = /^[A-Za-z0-9 _.@+-]*$/;

export function signingSnippets(options: SnippetOptions = {}): Snippet[] {
  const userId = options.userId ?? 'user-123';
  const env = options.envVar ?? SECRET_ENV_VAR;
  // Both go into string literals of five languages; anything beyond this set would need per-language escaping.
  if (!quoteable.test(userId) || !/^[A-Z_][A-Z0-9_]*$/.test(env)) throw new Error('unsupported characters in a snippet');
  return [
    {
      id: 'node',
      label: 'Node.js',
      code: `const crypto = require('node:crypto');

// Set ${env} in your server's environment; never put the secret in code.
const secret = process.env.${env};

function userHash(userId) {
  return crypto.createHmac('sha256', secret).update(userId).digest('hex');
}

console.log(userHash('${userId}'));
`,
    },
    {
      id: 'python',
      label: 'Python',
      code: `import hashlib
import hmac
import os

# Set ${env} in your server's environment; never put the secret in code.
secret = os.environ["${env}"]


def user_hash(user_id):
    return hmac.new(secret.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


print(user_hash("${userId}"))
`,
    },
    {
      id: 'ruby',
      label: 'Ruby',
      code: `require 'openssl'

# Set ${env} in your server's environment; never put the secret in code.
SECRET = ENV.fetch('${env}')

def user_hash(user_id)
  OpenSSL::HMAC.hexdigest('SHA256', SECRET, user_id)
end

puts user_hash('${userId}')
`,
    },
    {
      id: 'php',
      label: 'PHP',
      code: `<?php
// Set ${env} in your server's environment; never put the secret in code.
$secret = getenv('${env}');

function user_hash(string $userId, string $secret): string
{
    return hash_hmac('sha256', $userId, $secret);
}

echo user_hash('${userId}', $secret), "\\n";
`,
    },
    {
      id: 'go',
      label: 'Go',
      code: `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// userHash signs a user_id; set ${env} in your server's environment, never put the secret in code.
func userHash(userID string) string {
	mac := hmac.New(sha256.New, []byte(os.Getenv("${env}")))
	mac.Write([]byte(userID))
	return hex.EncodeToString(mac.Sum(nil))
}

func main() {
	fmt.Println(userHash("${userId}"))
}
`,
    },
  ];
}
