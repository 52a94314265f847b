; Row softmax Y = softmax(X, axis=1) of an f32[1024,1024] matrix on one v4
; core: per row, m = max_c x; e = exp(x - m); y = e * (1 / sum_c e).
;
; Blocks of RB = 64 rows (256 KiB) stream through two VMEM buffers: dma0
; loads block b+1 while the XLU and VPU work on block b, dma1 stores it.
; Cross-lane reductions (max, sum over the 1024 columns of a row) run on
; xlu0 and write one value per row into a column vector (stride 4 B); the
; VPU broadcasts that vector across the lanes with bmode=col.
;
; Semaphores:
;   s0/s1  block in buffer 0/1 loaded       (dma0 -> xlu0)
;   s2/s3  buffer 0/1 free                  (dma1 -> dma0), 1 credit at start
;   s4     row maxima ready                 (xlu0 -> vpu)
;   s5     exp done                         (vpu -> xlu0)
;   s6     row sums ready                   (xlu0 -> vpu)
;   s7/s8  block in buffer 0/1 normalized   (vpu -> dma1)
.equ R 1024
.equ C 1024
.equ RB 64
.equ RS C*4                ; row stride in bytes

.buffer X hbm f32[1024,1024] input
.buffer Y hbm f32[1024,1024] output

.equ VX0 0
.equ VX1 RB*RS
.equ VMX 2*RB*RS           ; RB row maxima
.equ VSM 2*RB*RS+RB*4      ; RB row sums, then their reciprocals

sem.add s2, n=1
sem.add s3, n=1
loop r1, R/RB/2
  mul r2, r1, 2*RB*RS                 ; offset of the pair's first block
  ; ---- block 2*r1 in buffer 0
  dma0.load dst=VX0, src=r2+X, bytes=RB*RS, wait=s2, signal=s0
  xlu0.reduce op=max, dtype=f32, dst=VMX, src=VX0, rows=RB, cols=C, ds=4, ss=RS, wait=s0, signal=s4
  vpu.binary op=sub, dtype=f32, dst=VX0, a=VX0, b=VMX, rows=RB, cols=C, ds=RS, as=RS, bs=4, bmode=col, wait=s4
  vpu.unary op=exp, dtype=f32, dst=VX0, a=VX0, rows=RB, cols=C, ds=RS, as=RS, signal=s5
  xlu0.reduce op=sum, dtype=f32, dst=VSM, src=VX0, rows=RB, cols=C, ds=4, ss=RS, wait=s5, signal=s6
  vpu.unary op=recip, dtype=f32, dst=VSM, a=VSM, rows=RB, cols=1, ds=4, as=4, wait=s6
  vpu.binary op=mul, dtype=f32, dst=VX0, a=VX0, b=VSM, rows=RB, cols=C, ds=RS, as=RS, bs=4, bmode=col, signal=s7
  dma1.store dst=r2+Y, src=VX0, bytes=RB*RS, wait=s7, signal=s2
  ; ---- block 2*r1+1 in buffer 1
  dma0.load dst=VX1, src=r2+X+RB*RS, bytes=RB*RS, wait=s3, signal=s1
  xlu0.reduce op=max, dtype=f32, dst=VMX, src=VX1, rows=RB, cols=C, ds=4, ss=RS, wait=s1, signal=s4
  vpu.binary op=sub, dtype=f32, dst=VX1, a=VX1, b=VMX, rows=RB, cols=C, ds=RS, as=RS, bs=4, bmode=col, wait=s4
  vpu.unary op=exp, dtype=f32, dst=VX1, a=VX1, rows=RB, cols=C, ds=RS, as=RS, signal=s5
  xlu0.reduce op=sum, dtype=f32, dst=VSM, src=VX1, rows=RB, cols=C, ds=4, ss=RS, wait=s5, signal=s6
  vpu.unary op=recip, dtype=f32, dst=VSM, a=VSM, rows=RB, cols=1, ds=4, as=4, wait=s6
  vpu.binary op=mul, dtype=f32, dst=VX1, a=VX1, b=VSM, rows=RB, cols=C, ds=RS, as=RS, bs=4, bmode=col, signal=s8
  dma1.store dst=r2+Y+RB*RS, src=VX1, bytes=RB*RS, wait=s8, signal=s3
endloop
halt
