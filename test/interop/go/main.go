// Command interop is the Go side of kubetrail's interop test (test/interop/go-interop.test.ts).
// It uses golang.org/x/mod/sumdb/{note,tlog}, the reference implementation of the formats
// kubetrail writes, to check what kubetrail produced ("check") and to produce checkpoints,
// proofs and tiles for kubetrail to check ("produce"). Request and response are JSON on
// stdin and stdout.
package main

import (
	"crypto/rand"
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
}

type produceRequest struct {
	Origin      string     `json:"origin"`
	Entries     []string   `json:"entries"`
	SignerKey   string     `json:"signerKey"`
	Inclusion   [][2]int64 `json:"inclusion"`
	Consistency [][2]int64 `json:"consistency"`
	TileDir     string     `json:"tileDir"`
}

type produceResponse struct {
	VerifierKey     string        `json:"verifierKey"`
	Checkpoint      string        `json:"checkpoint"`
	CheckpointByKey string        `json:"checkpointByGivenKey"`
	Roots           []tlog.Hash   `json:"roots"`
	Inclusion       [][]tlog.Hash `json:"inclusion"`
	Consistency     [][]tlog.Hash `json:"consistency"`
	TilePaths       []string      `json:"tilePaths"`
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
	return resp, nil
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
