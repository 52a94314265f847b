; One of every instruction (not meant to be run): used by the round-trip tests.
.buffer X hbm f32[64,128] input
.buffer Y hbm f32[64,128] output at 0x100000
.buffer V vmem bf16[8,128] scratch
.equ ROW 512
.core 0
nop
set r1, 42
add r2, r1, r3+8
sub r2, r2, -4
mul r3, r1, 0x20000
ld r4, 16
st r4, r5+8
sem.add s3, n=2
sem.add s1
loop r6, 4
  dma0.load dst=0, src=X+r6, bytes=ROW, n1=8, ds1=ROW, ss1=ROW*2, signal=s0
  dma3.store dst=Y, src=r1, bytes=64, n1=2, ds1=128, ss1=64, n2=3, ds2=1024, ss2=-512, wait=s0
  dma1.copy dst=4096, src=0, bytes=256
  dma2.nop wait=s1, signal=s2
endloop
mxu0.load_weights src=V, stride=256, k=8, n=128
mxu1.load_weights src=0, stride=128, k=128, n=128, dtype=s8
mxu2.fetch_weights src=X, stride=128, k=64, n=128
mxu3.matmul lhs=0, stride=256, m=8, acc=16, accumulate=r6
mxu0.matmul lhs=0, stride=128, m=8, acc=0, dtype=s8
mxu0.read_acc dst=0, stride=512, acc=0, m=8, n=128
mxu1.read_acc dst=0, stride=256, acc=0, m=8, n=128, dtype=bf16
mxu2.nop signal=s4
vpu.binary add, f32, dst=0, a=512, b=1024, rows=8, cols=128, ds=512, as=512, bs=0
vpu.binary max, bf16, dst=0, a=512, b=1024, rows=8, cols=128, ds=256, as=256, bs=4, bmode=col
vpu.binary shl, s32, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0
vpu.binary_imm mul, f32, dst=0, a=0, imm=0.125, rows=8, cols=128, ds=512, as=512
vpu.binary_imm add, s32, dst=0, a=0, imm=-7, rows=8, cols=128, ds=512, as=512
vpu.binary_imm min, f32, dst=0, a=0, imm=nan(0x7fc00001), rows=1, cols=1, ds=0, as=0
vpu.unary exp, f32, dst=0, a=0, rows=8, cols=128, ds=512, as=512
vpu.unary abs, s32, dst=0, a=0, rows=8, cols=128, ds=512, as=512
vpu.reduce sum, f32, dst=0, src=512, rows=8, cols=128, ss=512
vpu.convert bf16, f32, dst=0, src=4096, rows=8, cols=128, ds=256, ss=512
vpu.requant dst=0, src=4096, scale=0.0625, rows=8, cols=128, ds=128, ss=512, zero_point=-3
vpu.nop wait=s4
xlu0.transpose f32, dst=0, src=65536, rows=8, cols=128, ds=32, ss=512
xlu1.reduce max, f32, dst=0, src=512, rows=8, cols=128, ds=4, ss=512
xlu0.permute s8, dst=0, src=1024, idx=2048, rows=8, cols=128, ds=128, ss=128
xlu1.nop
barrier wait=s2, signal=s3
dma1.gather dst=0, src=X, idx=r2+4096, rows=16, bytes=512, stride=512, limit=64, signal=s1
vpu.select f32, dst=0, p=4096, a=r1+512, b=1024, rows=8, cols=128, ds=512, ps=512, as=512, bs=-512
vpu.select s8, dst=0, p=4096, a=512, b=1024, rows=1, cols=ROW*2, ds=0, ps=0, as=0, bs=0
vpu.binary lt, f32, dst=0, a=512, b=1024, rows=8, cols=128, ds=512, as=512, bs=512
vpu.binary ge, s32, dst=0, a=512, b=1024, rows=8, cols=128, ds=512, as=512, bs=4, bmode=col
vpu.binary pow, bf16, dst=0, a=512, b=1024, rows=8, cols=128, ds=256, as=256, bs=256
vpu.binary_imm rem, s32, dst=0, a=0, imm=-3, rows=8, cols=128, ds=512, as=512
vpu.binary_imm atan2, f32, dst=0, a=0, imm=-1.5, rows=8, cols=128, ds=512, as=512
vpu.binary_imm and, s32, dst=0, a=0, imm=0, rows=8, cols=128, ds=512, as=512
vpu.unary logistic, f32, dst=0, a=0, rows=8, cols=128, ds=512, as=512
vpu.unary round_even, bf16, dst=0, a=0, rows=8, cols=128, ds=256, as=256
vpu.unary sign, s32, dst=0, a=0, rows=8, cols=128, ds=512, as=512
halt
.core 1
halt
