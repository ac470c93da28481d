package plot

import "image/color"

func rgb(hex uint32) color.NRGBA {
	return color.NRGBA{R: uint8(hex >> 16), G: uint8(hex >> 8), B: uint8(hex), A: 255}
}

// Tab10 is matplotlib's default qualitative palette (from Tableau): ten
// colours that stay distinguishable next to each other. Line series and
// plots with at most ten classes use it.
var Tab10 = []color.NRGBA{
	rgb(0x1f77b4), rgb(0xff7f0e), rgb(0x2ca02c), rgb(0xd62728), rgb(0x9467bd),
	rgb(0x8c564b), rgb(0xe377c2), rgb(0x7f7f7f), rgb(0xbcbd22), rgb(0x17becf),
}

// Tab20 pairs each Tab10 colour with a lighter shade, for plots with 11 to
// 20 classes.
var Tab20 = []color.NRGBA{
	rgb(0x1f77b4), rgb(0xaec7e8), rgb(0xff7f0e), rgb(0xffbb78), rgb(0x2ca02c),
	rgb(0x98df8a), rgb(0xd62728), rgb(0xff9896), rgb(0x9467bd), rgb(0xc5b0d5),
	rgb(0x8c564b), rgb(0xc49c94), rgb(0xe377c2), rgb(0xf7b6d2), rgb(0x7f7f7f),
	rgb(0xc7c7c7), rgb(0xbcbd22), rgb(0xdbdb8d), rgb(0x17becf), rgb(0x9edae5),
}

// ClassColor returns the colour of class i when there are n classes:
// Tab10 for up to ten, Tab20 for up to twenty, and Tab20 repeated beyond
// that (colours then repeat, which the legend cannot resolve).
func ClassColor(i, n int) color.NRGBA {
	if i < 0 {
		i = -i
	}
	if n <= len(Tab10) {
		return Tab10[i%len(Tab10)]
	}
	return Tab20[i%len(Tab20)]
}

// Colours of the figure furniture.
var (
	colText   = color.NRGBA{0x22, 0x22, 0x22, 255}
	colAxis   = color.NRGBA{0x44, 0x44, 0x44, 255}
	colGrid   = color.NRGBA{0xe3, 0xe3, 0xe3, 255}
	colLegend = color.NRGBA{0xff, 0xff, 0xff, 0xe6}
	colFrame  = color.NRGBA{0xcc, 0xcc, 0xcc, 255}
)

// withAlpha returns c with opacity a in [0, 1].
func withAlpha(c color.NRGBA, a float64) color.NRGBA {
	c.A = uint8(max(0, min(255, a*255+0.5)))
	return c
}

type colorCache struct {
	c   color.NRGBA
	set bool
}
