// Package color converts between sRGB and CIE L*a*b* (D65 white, 2° standard
// observer): the colour space of the colorization pretext task, where L is
// the lightness a network sees and a, b are the chromatic channels it
// predicts.
//
// The conversion is exact in the sense of the standards it follows: the sRGB
// transfer function with its linear segment (IEC 61966-2-1), a 3x3 matrix to
// CIE XYZ, and the CIE Lab function f with its linear part below
// epsilon = 216/24389, using the rational CIE constants. The matrix and the
// D65 white point are those of scikit-image's skimage.color.rgb2lab, which
// the reference implementation of Zhang, Isola and Efros (2016) used, so
// that Lab values (and the ab quantisation bins built on them) agree with
// the paper's code; testdata/gen_lab.py writes scikit-image's values and the
// tests compare against them.
//
// The API works on float32 values in [0, 1] (one pixel at a time, or whole
// images in CHW layout: the R, G and B planes one after another), computes
// in float64 internally, and splits large batches over tensor.ParallelFor's
// workers.
package color
