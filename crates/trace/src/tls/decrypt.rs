//! Record decryption with secrets from a key log.
