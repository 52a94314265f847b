; int8 GEMM on v1: C = A @ B with A s8[1024,1024], B s8[1024,1024] -> s32,
; and its requantization Q = sat(round_half_even(C * 2^-12) + 0) as s8.
;
; The activations A go once into the unified buffer (dma0). Weights stream
; from DDR3 through the weight FIFO (mxu0.fetch_weights, 256 x 256 s8 tiles,
; which the chip overlaps with the previous matmul). For each 256-column tile
; of the output the four 256-deep k-tiles accumulate into accumulator rows
; 0..1023 (accumulate=0 on the first), are read out as s32 into the unified
; buffer, requantized by the VPU, and stored by dma1.
;
; Semaphores: s0 A loaded (dma0 -> mxu0); s1 C tile read out (mxu0 -> vpu);
; s2 Q tile ready (vpu -> dma1).
.equ M 1024
.equ N 1024
.equ K 1024

.buffer A hbm s8[1024,1024] input
.buffer B hbm s8[1024,1024] input
.buffer C hbm s32[1024,1024] output
.buffer Q hbm s8[1024,1024] output

.equ UA 0                  ; A, M x K s8 (1 MiB)
.equ UC M*K                ; C, M x N s32 (4 MiB)
.equ UQ M*K+M*N*4          ; Q, M x N s8 (1 MiB)

dma0.load dst=UA, src=A, bytes=M*K, signal=s0
mxu0.nop wait=s0
loop r1, N/256                               ; output column tiles
  mul r2, r1, 256                            ; column offset in B, Q (s8)
  mul r3, r1, 1024                           ; column offset in C (s32)
  loop r4, K/256                             ; k-tiles
    mul r5, r4, 256*N                        ; row offset of the k-tile in B
    add r5, r5, r2+B
    mul r6, r4, 256                          ; column offset of the k-tile in A
    mxu0.fetch_weights src=r5, stride=N, k=256, n=256, dtype=s8
    mxu0.matmul lhs=r6+UA, stride=K, m=M, acc=0, accumulate=r4, dtype=s8
  endloop
  mxu0.read_acc dst=r3+UC, stride=N*4, acc=0, m=M, n=256, dtype=s32, signal=s1
  vpu.requant dst=r2+UQ, src=r3+UC, scale=0.000244140625, rows=M, cols=256, ds=N, ss=N*4, zero_point=0, wait=s1, signal=s2
  dma1.store dst=r3+C, src=r3+UC, bytes=256*4, n1=M, ds1=N*4, ss1=N*4, wait=s2
  dma1.store dst=r2+Q, src=r2+UQ, bytes=256, n1=M, ds1=N, ss1=N
endloop
halt
