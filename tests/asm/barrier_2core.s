; Two cores exchange halves through HBM, ordered by a chip-wide barrier
; (run on a chip with 2 cores, e.g. v4):
;   core c: H[c] = 2 * X[c]          (its own half, stored to HBM)
;           barrier                  (both halves are in HBM)
;           Z[c] = H[1 - c] + 1      (the other core's half)
; So Z = [2*X[1] + 1, 2*X[0] + 1]. Each core waits for its own store
; (nop wait=...) before the barrier: a barrier orders sequencers, and the
; store must have completed, not just been dispatched.
.buffer X hbm f32[2,1024] input
.buffer H hbm f32[2,1024] scratch
.buffer Z hbm f32[2,1024] output
.equ ROW 4096

.core 0
dma0.load dst=0, src=X, bytes=ROW, signal=s0
vpu.binary_imm mul, f32, dst=ROW, a=0, imm=2, rows=8, cols=128, ds=512, as=512, wait=s0, signal=s1
dma1.store dst=H, src=ROW, bytes=ROW, wait=s1, signal=s2
nop wait=s2
barrier
dma0.load dst=0, src=H+ROW, bytes=ROW, signal=s0
vpu.binary_imm add, f32, dst=ROW, a=0, imm=1, rows=8, cols=128, ds=512, as=512, wait=s0, signal=s1
dma1.store dst=Z, src=ROW, bytes=ROW, wait=s1
halt

.core 1
dma0.load dst=0, src=X+ROW, bytes=ROW, signal=s0
vpu.binary_imm mul, f32, dst=ROW, a=0, imm=2, rows=8, cols=128, ds=512, as=512, wait=s0, signal=s1
dma1.store dst=H+ROW, src=ROW, bytes=ROW, wait=s1, signal=s2
nop wait=s2
barrier
dma0.load dst=0, src=H, bytes=ROW, signal=s0
vpu.binary_imm add, f32, dst=ROW, a=0, imm=1, rows=8, cols=128, ds=512, as=512, wait=s0, signal=s1
dma1.store dst=Z+ROW, src=ROW, bytes=ROW, wait=s1
halt
