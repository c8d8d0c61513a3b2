package pki

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// tokenBytes is how many random bytes a new token holds; it is stored hex-encoded.
const tokenBytes = 32

// EnsureToken returns the bearer token stored in path, creating one of 32 random bytes,
// hex-encoded, when the file does not exist. The file is kept readable by its owner only: an
// existing one with wider permissions is narrowed. An empty token file is an error rather than
// something to overwrite, since clients may hold the token it used to contain.
func EnsureToken(path string) (token string, created bool, err error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		token = strings.TrimSpace(string(data))
		if token == "" || strings.ContainsAny(token, " \t\r\n") {
			return "", false, fmt.Errorf("pki: token file %s must hold one token on one line", path)
		}
		if err := narrowMode(path); err != nil {
			return "", false, err
		}
		return token, false, nil
	case !os.IsNotExist(err):
		return "", false, fmt.Errorf("pki: read token: %w", err)
	}

	buf := make([]byte, tokenBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", false, fmt.Errorf("pki: generate token: %w", err)
	}
	token = hex.EncodeToString(buf)
	if err := writeFileAtomic(path, []byte(token+"\n"), modePrivate); err != nil {
		return "", false, err
	}
	return token, true, nil
}

// narrowMode makes path readable by its owner only if anyone else may read or write it.
func narrowMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pki: stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, modePrivate); err != nil {
		return fmt.Errorf("pki: restrict permissions of %s: %w", path, err)
	}
	return nil
}
