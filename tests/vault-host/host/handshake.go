package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"

	hclog "github.com/hashicorp/go-hclog"
)

// handshake-probe starts the plugin by hand (go-plugin's client would never
// misbehave) and attacks its mTLS listener:
//
//	wrong-cert  client certificate other than PLUGIN_CLIENT_CERT
//	no-alpn     right certificate, no ALPN offered
//	good        right certificate and h2: the control, must be accepted
//
// It prints "refused" or "accepted"; exit 0 when that is what the mode
// expects (refused, except for good), 1 otherwise.
func cmdHandshakeProbe(o *options, log hclog.Logger, args []string) (int, error) {
	if len(args) != 1 || (args[0] != "wrong-cert" && args[0] != "no-alpn" && args[0] != "good") {
		return exitUsage, usageError{"handshake-probe: want wrong-cert, no-alpn or good"}
	}
	mode := args[0]
	hostCert, hostPEM, err := newIdentity()
	if err != nil {
		return exitFail, err
	}
	dir, err := os.MkdirTemp("", "vault-host-probe")
	if err != nil {
		return exitFail, err
	}
	defer os.RemoveAll(dir)

	cmd := exec.Command(o.plugin)
	cmd.Env = append(os.Environ(), vaultEnv...)
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Env = append(cmd.Env,
		handshake.MagicCookieKey+"="+handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=5",
		"PLUGIN_MIN_PORT=10000", "PLUGIN_MAX_PORT=25000",
		"PLUGIN_UNIX_SOCKET_DIR="+dir,
		"PLUGIN_CLIENT_CERT="+string(hostPEM))
	cmd.Stderr = log.Named("plugin").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return exitFail, err
	}
	if err := cmd.Start(); err != nil {
		return exitFail, fmt.Errorf("start plugin: %v", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	line, err := firstLine(stdout, 60*time.Second)
	if err != nil {
		return exitFail, err
	}
	log.Debug("handshake line", "line", line)
	network, addr, serverCert, err := parseHandshake(line)
	if err != nil {
		return exitFail, err
	}

	cfg := &tls.Config{
		Certificates: []tls.Certificate{hostCert},
		RootCAs:      x509.NewCertPool(),
		ServerName:   "localhost",
		NextProtos:   []string{"h2"},
	}
	cfg.RootCAs.AddCert(serverCert)
	switch mode {
	case "wrong-cert":
		if cfg.Certificates[0], _, err = newIdentity(); err != nil {
			return exitFail, err
		}
	case "no-alpn":
		cfg.NextProtos = nil
	}

	verdict, why := probe(network, addr, cfg)
	fmt.Println(verdict)
	fmt.Fprintf(os.Stderr, "vault-host: handshake-probe %s: %s: %s\n", mode, verdict, why)
	if (verdict == "accepted") == (mode == "good") {
		return exitOK, nil
	}
	return exitFail, nil
}

// probe connects, and counts the plugin as accepting only if it answers
// the HTTP/2 client preface with its SETTINGS frame.
func probe(network, addr string, cfg *tls.Config) (verdict, why string) {
	raw, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return "refused", "connect: " + err.Error()
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		return "refused", "TLS handshake: " + err.Error()
	}
	alpn := conn.ConnectionState().NegotiatedProtocol
	// With TLS 1.3 the server judges our certificate after our side of the
	// handshake is done: its verdict arrives on the first read.
	preface := "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
	if _, err := io.WriteString(conn, preface); err != nil {
		return "refused", "write preface: " + err.Error()
	}
	var hdr [9]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return "refused", fmt.Sprintf("after handshake (alpn %q): %v", alpn, err)
	}
	switch hdr[3] {
	case 4:
		return "accepted", fmt.Sprintf("server sent SETTINGS (alpn %q)", alpn)
	case 7:
		return "refused", fmt.Sprintf("server sent GOAWAY (alpn %q)", alpn)
	}
	return "accepted", fmt.Sprintf("server sent frame type %d (alpn %q)", hdr[3], alpn)
}

func firstLine(r io.Reader, timeout time.Duration) (string, error) {
	ch := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			errc <- fmt.Errorf("reading handshake line: %v (got %q)", err, line)
			return
		}
		ch <- strings.TrimRight(line, "\r\n")
	}()
	select {
	case l := <-ch:
		return l, nil
	case err := <-errc:
		return "", err
	case <-time.After(timeout):
		return "", errors.New("timeout waiting for the handshake line")
	}
}

// parseHandshake reads CORE|APP|NETWORK|ADDR|grpc|CERT.
func parseHandshake(line string) (network, addr string, cert *x509.Certificate, err error) {
	p := strings.Split(line, "|")
	if len(p) != 6 || p[0] != "1" || p[1] != "5" || p[4] != "grpc" {
		return "", "", nil, fmt.Errorf("bad handshake line %q", line)
	}
	der, err := base64.RawStdEncoding.DecodeString(p[5])
	if err != nil {
		return "", "", nil, fmt.Errorf("handshake certificate: %v", err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		return "", "", nil, fmt.Errorf("handshake certificate: %v", err)
	}
	return p[2], p[3], cert, nil
}

// newIdentity makes a throwaway certificate shaped like go-plugin's AutoMTLS
// ones (self-signed P-521, CN/SAN localhost, client+server auth).
func newIdentity() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"HashiCorp"}},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-30 * time.Second),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}
