package color

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// labRef is testdata/lab_ref.json (see testdata/gen_lab.py).
type labRef struct {
	Generator string       `json:"generator"`
	RGB2Lab   [][6]float64 `json:"rgb2lab"`
	Lab2RGB   [][6]float64 `json:"lab2rgb"`
}

func loadRef(t *testing.T) labRef {
	t.Helper()
	b, err := os.ReadFile("testdata/lab_ref.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 color/testdata/gen_lab.py)", err)
	}
	var ref labRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatalf("testdata/lab_ref.json: %v", err)
	}
	if len(ref.RGB2Lab) < 300 || len(ref.Lab2RGB) < 300 {
		t.Fatalf("testdata/lab_ref.json: only %d and %d rows", len(ref.RGB2Lab), len(ref.Lab2RGB))
	}
	return ref
}

// The conversions agree with scikit-image's rgb2lab and lab2rgb on
// primaries, greys, the linear segments of both curves, random colours and
// out-of-gamut Lab values, one pixel at a time and as planar batches.
func TestAgainstScikitImage(t *testing.T) {
	ref := loadRef(t)
	// This package uses the exact CIE constants of f's linear part;
	// scikit-image rounds kappa/116 to 7.787. For a colour whose X or Z lies
	// in that part (dark colours), a or b differ by up to
	// 500 * (kappa/116 - 7.787) * epsilon = 1.64e-4; L moves by at most
	// 116 * 3.7e-5 * epsilon = 3.8e-5.
	skimageGap := 500 * (labKappa/116 - 7.787) * labEpsilon
	labTol := [3]float64{1e-4, skimageGap + 1e-5, skimageGap + 1e-5}
	const rgbTol = 2e-5
	t.Run("rgb2lab", func(t *testing.T) {
		n := len(ref.RGB2Lab)
		src, dst, light := make([]float32, 3*n), make([]float32, 3*n), make([]float32, n)
		for i, row := range ref.RGB2Lab {
			src[i], src[n+i], src[2*n+i] = float32(row[0]), float32(row[1]), float32(row[2])
		}
		// the whole table as one image of n pixels
		if err := RGBToLabPlanar(dst, src, n); err != nil {
			t.Fatal(err)
		}
		if err := LightnessPlanar(light, src, n); err != nil {
			t.Fatal(err)
		}
		var worst [3]float64
		for i, row := range ref.RGB2Lab {
			L, A, B := RGBToLab(float32(row[0]), float32(row[1]), float32(row[2]))
			got := [][3]float32{{L, A, B}, {dst[i], dst[n+i], dst[2*n+i]}}
			for _, g := range got {
				for c := range 3 {
					d := math.Abs(float64(g[c]) - row[3+c])
					worst[c] = max(worst[c], d)
					if d > labTol[c] {
						t.Fatalf("rgb %v: Lab %v, scikit-image %v", row[:3], g, row[3:])
					}
				}
			}
			if d := math.Abs(float64(light[i]) - row[3]); d > labTol[0] {
				t.Fatalf("rgb %v: lightness %v, scikit-image %v", row[:3], light[i], row[3])
			}
			l64, a64, b64 := RGBToLab64(row[0], row[1], row[2])
			if math.Abs(l64-row[3]) > labTol[0] || math.Abs(a64-row[4]) > labTol[1] || math.Abs(b64-row[5]) > labTol[2] {
				t.Fatalf("rgb %v: RGBToLab64 %v %v %v, scikit-image %v", row[:3], l64, a64, b64, row[3:])
			}
			if l := Lightness(float32(row[0]), float32(row[1]), float32(row[2])); l != light[i] {
				t.Fatalf("Lightness %v, LightnessPlanar %v", l, light[i])
			}
		}
		t.Logf("%d colours, worst |L, a, b - skimage| = %.2g, %.2g, %.2g (%s)", n, worst[0], worst[1], worst[2], ref.Generator)
	})
	t.Run("lab2rgb", func(t *testing.T) {
		var worst float64
		for _, row := range ref.Lab2RGB {
			r, g, b := LabToRGB(float32(row[0]), float32(row[1]), float32(row[2]))
			for c, v := range [3]float32{r, g, b} {
				d := math.Abs(float64(v) - row[3+c])
				worst = max(worst, d)
				if d > rgbTol {
					t.Fatalf("Lab %v: rgb %v %v %v, scikit-image %v", row[:3], r, g, b, row[3:])
				}
			}
		}
		t.Logf("%d colours, worst |rgb - skimage| = %.2g", len(ref.Lab2RGB), worst)
	})
}

// Reference points every implementation must reproduce, independent of the
// fixture: white is L = 100 (with scikit-image's a, b of a few thousandths,
// since its white point is not the matrix's row sums), black is 0, and a
// mid grey has L = 53.585.
func TestKnownValues(t *testing.T) {
	cases := []struct {
		name    string
		r, g, b float32
		L, A, B float64
		tol     float64
	}{
		{"black", 0, 0, 0, 0, 0, 0, 1e-6},
		{"white", 1, 1, 1, 100, 0, 0, 5e-3},
		{"grey 0.5", 0.5, 0.5, 0.5, 53.3890, 0, 0, 5e-3},
		{"red", 1, 0, 0, 53.2406, 80.0923, 67.2028, 1e-3},
		{"blue", 0, 0, 1, 32.2957, 79.1856, -107.8573, 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			L, A, B := RGBToLab(c.r, c.g, c.b)
			if math.Abs(float64(L)-c.L) > c.tol || math.Abs(float64(A)-c.A) > c.tol || math.Abs(float64(B)-c.B) > c.tol {
				t.Fatalf("Lab(%v %v %v) = %v %v %v, want %v %v %v", c.r, c.g, c.b, L, A, B, c.L, c.A, c.B)
			}
		})
	}
}

// sRGB -> Lab -> sRGB returns the colour, pixel by pixel and in place on
// planar batches large enough to run in parallel.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const plane, images = 1024, 20 // 20480 pixels: split over the workers
	src := make([]float32, 3*plane*images)
	for i := range src {
		switch i % 7 {
		case 0:
			src[i] = 0.04 * r.Float32() // the linear segment
		default:
			src[i] = r.Float32()
		}
	}
	buf := append([]float32(nil), src...)
	if err := RGBToLabPlanar(buf, buf, plane); err != nil {
		t.Fatal(err)
	}
	if err := LabToRGBPlanar(buf, buf, plane); err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range src {
		worst = max(worst, math.Abs(float64(buf[i]-src[i])))
	}
	if worst > 2e-6 {
		t.Fatalf("planar round trip off by %g", worst)
	}
	for _, v := range []float64{0, 1e-6, 0.003, 0.04045, 0.2, 0.9, 1} {
		// the standard's two segments meet to 3e-8 (0.04045/12.92 is
		// slightly above the encoder's switch at 0.0031308)
		if got := LinearToSRGB(SRGBToLinear(v)); math.Abs(got-v) > 1e-7 {
			t.Fatalf("sRGB curve round trip %v -> %v", v, got)
		}
	}
	for _, f := range []float64{0, 0.1, labDelta, labDelta + 1e-9, 0.5, 1} {
		if got := labF(labFInv(f)); math.Abs(got-f) > 1e-12 {
			t.Fatalf("Lab f round trip %v -> %v", f, got)
		}
	}
	// the table decoder follows the formula
	for i := range 100001 {
		v := float32(i) / 100000
		if d := math.Abs(decode(v) - SRGBToLinear(float64(v))); d > 6e-9 {
			t.Fatalf("decode(%v) off by %g", v, d)
		}
	}
	for _, v := range []float32{-0.5, 1.5, 2} {
		if decode(v) != SRGBToLinear(float64(v)) {
			t.Fatalf("decode(%v) = %v, formula %v", v, decode(v), SRGBToLinear(float64(v)))
		}
	}
	// f is continuous where its linear part ends
	if d := math.Abs(math.Cbrt(labEpsilon) - (labKappa*labEpsilon+16)/116); d > 1e-15 {
		t.Fatalf("f jumps by %g at epsilon", d)
	}
}

// Grey levels have the lightness of the equal-channel colour.
func TestGrayLightness(t *testing.T) {
	src := []float32{0, 0.02, 0.2, 0.5, 1}
	dst := make([]float32, len(src))
	if err := GrayLightness(dst, src); err != nil {
		t.Fatal(err)
	}
	for i, v := range src {
		if want := Lightness(v, v, v); math.Abs(float64(dst[i]-want)) > 1e-4 {
			t.Fatalf("GrayLightness(%v) = %v, Lightness = %v", v, dst[i], want)
		}
	}
	if err := GrayLightness(dst[:2], src); err == nil {
		t.Fatal("length mismatch accepted")
	}
}

// Out-of-gamut Lab colours are clipped into [0, 1].
func TestLabToRGBClips(t *testing.T) {
	for _, lab := range [][3]float32{{50, 120, -120}, {100, 100, 100}, {0, -100, 100}, {-10, 0, 0}, {120, 0, 0}} {
		r, g, b := LabToRGB(lab[0], lab[1], lab[2])
		for _, v := range []float32{r, g, b} {
			if v < 0 || v > 1 || math.IsNaN(float64(v)) {
				t.Fatalf("Lab %v -> rgb %v %v %v", lab, r, g, b)
			}
		}
	}
}

func TestPlanarErrors(t *testing.T) {
	cases := []struct {
		name     string
		dst, src int
		plane    int
		want     string
	}{
		{"zero plane", 3, 3, 0, "plane size"},
		{"partial image", 3, 5, 1, "not whole images"},
		{"short destination", 5, 6, 2, "destination has 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := RGBToLabPlanar(make([]float32, c.dst), make([]float32, c.src), c.plane)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if err := LightnessPlanar(make([]float32, 3), make([]float32, 6), 2); err == nil {
		t.Fatal("LightnessPlanar accepted 3 values for 1 image of 2 pixels")
	}
}

func BenchmarkRGBToLabPlanar(b *testing.B) {
	src := make([]float32, 3*1024*64)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range src {
		src[i] = r.Float32()
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		RGBToLabPlanar(dst, src, 1024)
	}
}
