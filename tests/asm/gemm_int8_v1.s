; int8 GEMM on v1: C = A @ B with A s8[512,256], B s8[256,512] -> s32, then
; requantized to s8 (Q = sat(round(C * 1/64) - 3)). Weights stream from DDR3
; through the weight FIFO (mxu.fetch_weights); the activations come through
; the unified buffer. One 256x256 MXU; the two N tiles reuse accumulator rows.
.buffer A hbm s8[512,256] input
.buffer B hbm s8[256,512] input
.buffer C hbm s32[512,512] output
.buffer Q hbm s8[512,512] output

.equ UA 0              ; A in the unified buffer (512 rows of 256 B)
.equ UC 0x20000        ; C tile rows of 512 x s32 (2048 B)
.equ UQ 0x120000       ; Q rows of 512 B

dma0.load dst=UA, src=A, bytes=512*256, signal=s0
mxu0.nop wait=s0
loop r1, 2                                   ; N tiles of 256 columns
  mul r2, r1, 256                            ; column offset in B (s8) and Q
  mul r3, r1, 1024                           ; column offset in C (s32)
  mxu0.fetch_weights src=r2+B, stride=512, k=256, n=256, dtype=s8
  mxu0.matmul lhs=UA, stride=256, m=512, acc=0, dtype=s8
  mxu0.read_acc dst=r3+UC, stride=2048, acc=0, m=512, n=256, dtype=s32, signal=s1
  vpu.requant dst=r2+UQ, src=r3+UC, scale=0.015625, rows=512, cols=256, ds=512, ss=2048, zero_point=-3, wait=s1, signal=s2
endloop
dma1.nop wait=s2
dma1.store dst=C, src=UC, bytes=512*2048, wait=s2
dma1.store dst=Q, src=UQ, bytes=512*512
halt
