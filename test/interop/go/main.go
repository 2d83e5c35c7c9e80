// Command interop is the Go side of kubetrail's interop test (test/interop/go-interop.test.ts).
// It uses golang.org/x/mod/sumdb/{note,tlog}, the reference implementation of the formats
// kubetrail writes, to check what kubetrail produced ("check") and to produce checkpoints,
// proofs and tiles for kubetrail to check ("produce"). Request and response are JSON on
// stdin and stdout.
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

type inclusion struct {
	Index int64       `json:"index"`
	Size  int64       `json:"size"`
	Leaf  tlog.Hash   `json:"leaf"`
	Root  tlog.Hash   `json:"root"`
	Proof []tlog.Hash `json:"proof"`
}

type consistency struct {
	Size1 int64       `json:"size1"`
	Size2 int64       `json:"size2"`
	Root1 tlog.Hash   `json:"root1"`
	Root2 tlog.Hash   `json:"root2"`
	Proof []tlog.Hash `json:"proof"`
}

type checkRequest struct {
	VerifierKey  string        `json:"verifierKey"`
	Checkpoint   string        `json:"checkpoint"`
	Inclusion    []inclusion   `json:"inclusion"`
	Consistency  []consistency `json:"consistency"`
	TileDir      string        `json:"tileDir"`
	ProveIndexes []int64       `json:"proveIndexes"`
	ProveSizes   []int64       `json:"proveSizes"`
	NewTiles     [][2]int64    `json:"newTiles"`
	// A checkpoint carrying the log's signature and a witness's cosignature/v1 line, and the
	// witness's verifier key (algorithm 0x04).
	CosignedCheckpoint string `json:"cosignedCheckpoint"`
	WitnessKey         string `json:"witnessKey"`
}

type checkResponse struct {
	Origin      string        `json:"origin"`
	Size        int64         `json:"size"`
	Root        tlog.Hash     `json:"root"`
	Signers     []string      `json:"signers"`
	Inclusion   []string      `json:"inclusion"`
	Consistency []string      `json:"consistency"`
	TileRoot    tlog.Hash     `json:"tileRoot"`
	TileRecord  [][]tlog.Hash `json:"tileRecordProofs"`
	TileTree    [][]tlog.Hash `json:"tileTreeProofs"`
	NewTiles    [][]string    `json:"newTiles"`
	// Opening the cosigned checkpoint with the log's key alone: the signers Go verified and
	// the signature lines it left unverified; then with a cosignature/v1 verifier beside it.
	CosignedLogOnly   []string `json:"cosignedLogOnly"`
	CosignedUnknown   []string `json:"cosignedUnknown"`
	CosignedWithBoth  []string `json:"cosignedWithBoth"`
	CosignatureTime   uint64   `json:"cosignatureTime"`
}

type produceRequest struct {
	Origin      string     `json:"origin"`
	Entries     []string   `json:"entries"`
	SignerKey   string     `json:"signerKey"`
	Inclusion   [][2]int64 `json:"inclusion"`
	Consistency [][2]int64 `json:"consistency"`
	TileDir     string     `json:"tileDir"`
	// A cosignature/v1 signer key for Go to cosign its checkpoint with, at CosignTime.
	WitnessSignerKey string `json:"witnessSignerKey"`
	CosignTime       uint64 `json:"cosignTime"`
}

type produceResponse struct {
	VerifierKey     string        `json:"verifierKey"`
	Checkpoint      string        `json:"checkpoint"`
	CheckpointByKey string        `json:"checkpointByGivenKey"`
	Roots           []tlog.Hash   `json:"roots"`
	Inclusion       [][]tlog.Hash `json:"inclusion"`
	Consistency     [][]tlog.Hash `json:"consistency"`
	TilePaths       []string      `json:"tilePaths"`
	Cosigned        string        `json:"cosignedCheckpoint"`
}

func main() {
	if len(os.Args) != 2 {
		fail(errors.New("usage: interop check|produce < request.json"))
	}
	var out interface{}
	var err error
	switch os.Args[1] {
	case "check":
		var req checkRequest
		if err = json.NewDecoder(os.Stdin).Decode(&req); err == nil {
			out, err = check(req)
		}
	case "produce":
		var req produceRequest
		if err = json.NewDecoder(os.Stdin).Decode(&req); err == nil {
			out, err = produce(req)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "interop:", err)
	os.Exit(1)
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// parseCheckpoint reads the first three lines of a C2SP checkpoint body.
func parseCheckpoint(text string) (origin string, size int64, root tlog.Hash, err error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return "", 0, tlog.Hash{}, errors.New("checkpoint has fewer than 3 lines")
	}
	if size, err = strconv.ParseInt(lines[1], 10, 64); err != nil {
		return "", 0, tlog.Hash{}, err
	}
	if root, err = tlog.ParseHash(lines[2]); err != nil {
		return "", 0, tlog.Hash{}, err
	}
	return lines[0], size, root, nil
}

// c2spPath maps Go's tile path "tile/8/L/N[.p/W]" to the C2SP path "tile/L/N[.p/W]".
func c2spPath(t tlog.Tile) string {
	return strings.Replace(t.Path(), fmt.Sprintf("tile/%d/", tileHeight), "tile/", 1)
}

// dirTiles serves tiles from a directory laid out as C2SP tlog-tiles.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return tileHeight }

func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(c2spPath(t))))
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	return data, nil
}

func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func check(req checkRequest) (*checkResponse, error) {
	verifier, err := note.NewVerifier(req.VerifierKey)
	if err != nil {
		return nil, err
	}
	n, err := note.Open([]byte(req.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		return nil, err
	}
	resp := &checkResponse{}
	for _, s := range n.Sigs {
		resp.Signers = append(resp.Signers, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if resp.Origin, resp.Size, resp.Root, err = parseCheckpoint(n.Text); err != nil {
		return nil, err
	}
	for _, c := range req.Inclusion {
		resp.Inclusion = append(resp.Inclusion, errText(tlog.CheckRecord(c.Proof, c.Size, c.Root, c.Index, c.Leaf)))
	}
	for _, c := range req.Consistency {
		resp.Consistency = append(resp.Consistency, errText(tlog.CheckTree(c.Proof, c.Size2, c.Root2, c.Size1, c.Root1)))
	}
	if req.TileDir != "" {
		tree := tlog.Tree{N: resp.Size, Hash: resp.Root}
		reader := tlog.TileHashReader(tree, dirTiles{req.TileDir})
		if resp.TileRoot, err = tlog.TreeHash(tree.N, reader); err != nil {
			return nil, err
		}
		for _, i := range req.ProveIndexes {
			p, err := tlog.ProveRecord(tree.N, i, reader)
			if err != nil {
				return nil, err
			}
			resp.TileRecord = append(resp.TileRecord, p)
		}
		for _, s := range req.ProveSizes {
			p, err := tlog.ProveTree(tree.N, s, reader)
			if err != nil {
				return nil, err
			}
			resp.TileTree = append(resp.TileTree, p)
		}
	}
	for _, pair := range req.NewTiles {
		paths := []string{}
		for _, t := range tlog.NewTiles(tileHeight, pair[0], pair[1]) {
			paths = append(paths, c2spPath(t))
		}
		resp.NewTiles = append(resp.NewTiles, paths)
	}
	if req.CosignedCheckpoint != "" {
		if err := checkCosigned(req, verifier, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// checkCosigned opens a checkpoint with an extra (witness) signature line as a client that
// knows only the log's key does, and as one that also knows the witness.
func checkCosigned(req checkRequest, logKey note.Verifier, resp *checkResponse) error {
	n, err := note.Open([]byte(req.CosignedCheckpoint), note.VerifierList(logKey))
	if err != nil {
		return fmt.Errorf("opening the cosigned checkpoint with the log's key: %v", err)
	}
	for _, s := range n.Sigs {
		resp.CosignedLogOnly = append(resp.CosignedLogOnly, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	for _, s := range n.UnverifiedSigs {
		resp.CosignedUnknown = append(resp.CosignedUnknown, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	witness, err := newCosignatureVerifier(req.WitnessKey)
	if err != nil {
		return err
	}
	n, err = note.Open([]byte(req.CosignedCheckpoint), note.VerifierList(logKey, witness))
	if err != nil {
		return fmt.Errorf("opening the cosigned checkpoint with both keys: %v", err)
	}
	for _, s := range n.Sigs {
		resp.CosignedWithBoth = append(resp.CosignedWithBoth, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		if s.Name == witness.name {
			sig, _ := base64.StdEncoding.DecodeString(s.Base64)
			resp.CosignatureTime = binary.BigEndian.Uint64(sig[4:12])
		}
	}
	return nil
}

func produce(req produceRequest) (*produceResponse, error) {
	var stored []tlog.Hash
	hashes := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("stored hash %d out of range", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	resp := &produceResponse{}
	for i, e := range req.Entries {
		h, err := tlog.StoredHashes(int64(i), []byte(e), hashes)
		if err != nil {
			return nil, err
		}
		stored = append(stored, h...)
		root, err := tlog.TreeHash(int64(i+1), hashes)
		if err != nil {
			return nil, err
		}
		resp.Roots = append(resp.Roots, root)
	}
	size := int64(len(req.Entries))
	if size == 0 {
		return nil, errors.New("no entries")
	}
	root := resp.Roots[size-1]
	text := fmt.Sprintf("%s\n%d\n%s\n", req.Origin, size, root)

	skey, vkey, err := note.GenerateKey(rand.Reader, req.Origin)
	if err != nil {
		return nil, err
	}
	resp.VerifierKey = vkey
	if resp.Checkpoint, err = signText(text, skey); err != nil {
		return nil, err
	}
	if req.SignerKey != "" {
		if resp.CheckpointByKey, err = signText(text, req.SignerKey); err != nil {
			return nil, err
		}
	}
	for _, c := range req.Inclusion {
		p, err := tlog.ProveRecord(c[1], c[0], hashes)
		if err != nil {
			return nil, err
		}
		resp.Inclusion = append(resp.Inclusion, p)
	}
	for _, c := range req.Consistency {
		p, err := tlog.ProveTree(c[1], c[0], hashes)
		if err != nil {
			return nil, err
		}
		resp.Consistency = append(resp.Consistency, p)
	}
	if req.WitnessSignerKey != "" {
		witness, err := newCosignatureSigner(req.WitnessSignerKey, req.CosignTime)
		if err != nil {
			return nil, err
		}
		n, err := note.Open([]byte(resp.Checkpoint), note.VerifierList(mustVerifier(vkey)))
		if err != nil {
			return nil, err
		}
		// A witness keeps the log's signature and adds its own line.
		cosigned, err := note.Sign(&note.Note{Text: n.Text, Sigs: n.Sigs}, witness)
		if err != nil {
			return nil, err
		}
		resp.Cosigned = string(cosigned)
	}
	if req.TileDir != "" {
		for _, t := range tlog.NewTiles(tileHeight, 0, size) {
			data, err := tlog.ReadTileData(t, hashes)
			if err != nil {
				return nil, err
			}
			file := filepath.Join(req.TileDir, filepath.FromSlash(c2spPath(t)))
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(file, data, 0o644); err != nil {
				return nil, err
			}
			resp.TilePaths = append(resp.TilePaths, c2spPath(t))
		}
	}
	return resp, nil
}

func signText(text, skey string) (string, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", err
	}
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	return string(msg), err
}

func mustVerifier(vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail(err)
	}
	return v
}

// A C2SP tlog-cosignature Ed25519 cosignature/v1 key (algorithm 0x04), written here from the
// specification so that it checks kubetrail's implementation rather than sharing its code:
// the signature is u64 big-endian time ‖ Ed25519 over "cosignature/v1\ntime <t>\n" ‖ note text.
const algCosignatureV1 = 4

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v cosignatureVerifier) Name() string    { return v.name }
func (v cosignatureVerifier) KeyHash() uint32 { return v.hash }
func (v cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	return ed25519.Verify(v.key, cosignedMessage(t, msg), sig[8:])
}

type cosignatureSigner struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
	time uint64
}

func (s cosignatureSigner) Name() string    { return s.name }
func (s cosignatureSigner) KeyHash() uint32 { return s.hash }
func (s cosignatureSigner) Sign(msg []byte) ([]byte, error) {
	sig := make([]byte, 8, 8+ed25519.SignatureSize)
	binary.BigEndian.PutUint64(sig, s.time)
	return append(sig, ed25519.Sign(s.key, cosignedMessage(s.time, msg))...), nil
}

func cosignedMessage(t uint64, text []byte) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), text...)
}

func cosignatureKeyHash(name string, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algCosignatureV1})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// splitCosignatureKey parses "<name>+<hash>+<base64(0x04 ‖ 32 bytes)>".
func splitCosignatureKey(text string) (name string, hash uint32, key []byte, err error) {
	parts := strings.SplitN(text, "+", 3)
	if len(parts) != 3 {
		return "", 0, nil, errors.New("cosignature key is not name+hash+key")
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return "", 0, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != algCosignatureV1 {
		return "", 0, nil, errors.New("not a cosignature/v1 key")
	}
	return parts[0], uint32(h), raw[1:], nil
}

func newCosignatureVerifier(vkey string) (cosignatureVerifier, error) {
	name, hash, pub, err := splitCosignatureKey(vkey)
	if err != nil {
		return cosignatureVerifier{}, err
	}
	if cosignatureKeyHash(name, pub) != hash {
		return cosignatureVerifier{}, errors.New("cosignature verifier key hash mismatch")
	}
	return cosignatureVerifier{name, hash, ed25519.PublicKey(pub)}, nil
}

func newCosignatureSigner(skey string, t uint64) (cosignatureSigner, error) {
	name, hash, seed, err := splitCosignatureKey(strings.TrimPrefix(skey, "PRIVATE+KEY+"))
	if err != nil {
		return cosignatureSigner{}, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if cosignatureKeyHash(name, priv.Public().(ed25519.PublicKey)) != hash {
		return cosignatureSigner{}, errors.New("cosignature signer key hash mismatch")
	}
	return cosignatureSigner{name, hash, priv, t}, nil
}
