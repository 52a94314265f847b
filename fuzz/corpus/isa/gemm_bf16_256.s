; C = A @ B, 256 x 256 x 256 bf16 -> f32, on one v4 core using all four MXUs.
; MXU m computes the 128 x 128 output tile (m / 2, m % 2), looping over the
; two 128-deep K tiles; accumulate=r1 overwrites on the first K tile and adds
; on the second. DMA completion reaches the sequencer through s0/s1; the
; four read-outs signal s2, which the storing DMA engine waits on four times.
.buffer A hbm bf16[256,256] input
.buffer B hbm bf16[256,256] input
.buffer C hbm f32[256,256] output

.equ VA 0x0           ; A in VMEM, row stride 512 B
.equ VB 0x20000       ; B in VMEM, row stride 512 B
.equ VC 0x40000       ; C in VMEM, row stride 1024 B
.equ KT 128*512       ; bytes of 128 rows of A or B

dma0.load dst=VA, src=A, bytes=256*512, signal=s0
dma1.load dst=VB, src=B, bytes=256*512, signal=s1
nop wait=s0
nop wait=s1
loop r1, 2
  mul r2, r1, KT      ; B: first row of K tile r1
  mul r3, r1, 256     ; A: first column of K tile r1 (128 bf16)
  mxu0.load_weights src=r2+VB, stride=512, k=128, n=128
  mxu0.matmul lhs=r3+VA, stride=512, m=128, acc=0, accumulate=r1
  mxu1.load_weights src=r2+VB+256, stride=512, k=128, n=128
  mxu1.matmul lhs=r3+VA, stride=512, m=128, acc=0, accumulate=r1
  mxu2.load_weights src=r2+VB, stride=512, k=128, n=128
  mxu2.matmul lhs=r3+VA+KT, stride=512, m=128, acc=0, accumulate=r1
  mxu3.load_weights src=r2+VB+256, stride=512, k=128, n=128
  mxu3.matmul lhs=r3+VA+KT, stride=512, m=128, acc=0, accumulate=r1
endloop
mxu0.read_acc dst=VC, stride=1024, acc=0, m=128, n=128, signal=s2
mxu1.read_acc dst=VC+512, stride=1024, acc=0, m=128, n=128, signal=s2
mxu2.read_acc dst=VC+128*1024, stride=1024, acc=0, m=128, n=128, signal=s2
mxu3.read_acc dst=VC+128*1024+512, stride=1024, acc=0, m=128, n=128, signal=s2
dma2.nop wait=s2
dma2.nop wait=s2
dma2.nop wait=s2
dma2.store dst=C, src=VC, bytes=256*1024, wait=s2
halt
