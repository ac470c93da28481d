//go:build amd64 && !purego

#include "textflag.h"

// AVX2 GELU, the vector twin of normalCDF in activation.go: Phi(x) by
// Abramowitz & Stegun 7.1.26 on |x|/sqrt2 with exp(-x^2/2) from a Cephes
// polynomial, the sign put back by a bit-or. tab points at geluTable (one
// 8-float row per constant, offsets below); n is a multiple of 8, > 0.
//
// rows: 0 |.| mask, 1 sign mask, 2 1/sqrt2, 3 p, 4 one, 5 -0.5, 6 -87,
// 7 log2e, 8 1.5*2^23, 9 ln2hi, 10 ln2lo, 11 exponent bias, 12-17 exp
// polynomial, 18-22 a5..a1, 23 0.5, 24 1/sqrt(2 pi).

// GELU_CDF leaves Phi(x) in Y9 and exp(-x^2/2) in Y6 for x in Y0; uses Y1-Y9.
#define GELU_CDF \
	VANDPS 0(R8), Y0, Y1; \
	VMULPS 64(R8), Y1, Y2; \
	VMOVUPS 128(R8), Y3; \
	VFMADD231PS 96(R8), Y2, Y3; \
	VMOVUPS 128(R8), Y4; \
	VDIVPS Y3, Y4, Y3; \
	VMULPS Y0, Y0, Y4; \
	VMULPS 160(R8), Y4, Y4; \
	VMAXPS 192(R8), Y4, Y4; \
	VMOVUPS 256(R8), Y5; \
	VFMADD231PS 224(R8), Y4, Y5; \
	VSUBPS 256(R8), Y5, Y6; \
	VFNMADD231PS 288(R8), Y6, Y4; \
	VFNMADD231PS 320(R8), Y6, Y4; \
	VPADDD 352(R8), Y5, Y5; \
	VPSLLD $23, Y5, Y5; \
	VMOVUPS 384(R8), Y6; \
	VFMADD213PS 416(R8), Y4, Y6; \
	VFMADD213PS 448(R8), Y4, Y6; \
	VFMADD213PS 480(R8), Y4, Y6; \
	VFMADD213PS 512(R8), Y4, Y6; \
	VFMADD213PS 544(R8), Y4, Y6; \
	VMULPS Y4, Y4, Y7; \
	VFMADD213PS Y4, Y7, Y6; \
	VADDPS 128(R8), Y6, Y6; \
	VMULPS Y5, Y6, Y6; \
	VMOVUPS 576(R8), Y7; \
	VFMADD213PS 608(R8), Y3, Y7; \
	VFMADD213PS 640(R8), Y3, Y7; \
	VFMADD213PS 672(R8), Y3, Y7; \
	VFMADD213PS 704(R8), Y3, Y7; \
	VMULPS Y3, Y7, Y7; \
	VMULPS Y6, Y7, Y7; \
	VMOVUPS 128(R8), Y8; \
	VSUBPS Y7, Y8, Y8; \
	VANDPS 32(R8), Y0, Y9; \
	VORPS Y9, Y8, Y8; \
	VMOVUPS 736(R8), Y9; \
	VFMADD231PS 736(R8), Y8, Y9

// func geluAVX2(x, out *float32, n int, tab *float32)
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ tab+24(FP), R8
	SHRQ $3, CX
gelu_loop:
	VMOVUPS (SI), Y0
	GELU_CDF
	VMULPS Y0, Y9, Y9
	VMOVUPS Y9, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  gelu_loop
	VZEROUPPER
	RET

// func geluBackAVX2(x, grad, dst *float32, n int, tab *float32, acc bool)
// dst (+)= grad * (Phi(x) + x * pdf(x))
TEXT ·geluBackAVX2(SB), NOSPLIT, $0-41
	MOVQ x+0(FP), SI
	MOVQ grad+8(FP), DX
	MOVQ dst+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ tab+32(FP), R8
	MOVBLZX acc+40(FP), AX
	SHRQ $3, CX
geluback_loop:
	VMOVUPS (SI), Y0
	GELU_CDF
	VMULPS 768(R8), Y6, Y6
	VFMADD231PS Y0, Y6, Y9
	VMULPS (DX), Y9, Y9
	TESTQ AX, AX
	JZ   geluback_store
	VADDPS (DI), Y9, Y9
geluback_store:
	VMOVUPS Y9, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ  geluback_loop
	VZEROUPPER
	RET
