# plots.gp: written by msf run for fmnist_bf16; run `gnuplot plots.gp` in this folder.
# A curve against residual steps or guidance needs two points of its series; against GFLOPs, a series of one point is a marker and a plot needs two points.
if (!exists("suffix")) suffix = ''
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
array names[4] = ['dit_fp32,cfg=1.5', 'dit_bf16,cfg=1.5', 'msf_fp32,cfg=1.5', 'msf_bf16,cfg=1.5']
set output 'fid_vs_residual_steps.png'.suffix
set title 'fmnist_bf16: FID vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'FID (lower is better)'
set logscale x
plot 'plots.dat' index 2 using 1:4 with linespoints title names[3], \
     'plots.dat' index 3 using 1:4 with linespoints title names[4]
unset logscale x
set output 'fid_vs_gflops.png'.suffix
set title 'fmnist_bf16: FID vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'FID (lower is better)'
set logscale x
plot 'plots.dat' index 0 using 2:4 with linespoints title names[1], \
     'plots.dat' index 1 using 2:4 with linespoints title names[2], \
     'plots.dat' index 2 using 2:4 with linespoints title names[3], \
     'plots.dat' index 3 using 2:4 with linespoints title names[4]
unset logscale x
set output 'is_vs_residual_steps.png'.suffix
set title 'fmnist_bf16: IS vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'IS (higher is better)'
set logscale x
plot 'plots.dat' index 2 using 1:6 with linespoints title names[3], \
     'plots.dat' index 3 using 1:6 with linespoints title names[4]
unset logscale x
set output 'is_vs_gflops.png'.suffix
set title 'fmnist_bf16: IS vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'IS (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:6 with linespoints title names[1], \
     'plots.dat' index 1 using 2:6 with linespoints title names[2], \
     'plots.dat' index 2 using 2:6 with linespoints title names[3], \
     'plots.dat' index 3 using 2:6 with linespoints title names[4]
unset logscale x
set output 'precision_vs_residual_steps.png'.suffix
set title 'fmnist_bf16: Precision vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'Precision (higher is better)'
set logscale x
plot 'plots.dat' index 2 using 1:7 with linespoints title names[3], \
     'plots.dat' index 3 using 1:7 with linespoints title names[4]
unset logscale x
set output 'precision_vs_gflops.png'.suffix
set title 'fmnist_bf16: Precision vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Precision (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:7 with linespoints title names[1], \
     'plots.dat' index 1 using 2:7 with linespoints title names[2], \
     'plots.dat' index 2 using 2:7 with linespoints title names[3], \
     'plots.dat' index 3 using 2:7 with linespoints title names[4]
unset logscale x
set output 'recall_vs_residual_steps.png'.suffix
set title 'fmnist_bf16: Recall vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'Recall (higher is better)'
set logscale x
plot 'plots.dat' index 2 using 1:8 with linespoints title names[3], \
     'plots.dat' index 3 using 1:8 with linespoints title names[4]
unset logscale x
set output 'recall_vs_gflops.png'.suffix
set title 'fmnist_bf16: Recall vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Recall (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:8 with linespoints title names[1], \
     'plots.dat' index 1 using 2:8 with linespoints title names[2], \
     'plots.dat' index 2 using 2:8 with linespoints title names[3], \
     'plots.dat' index 3 using 2:8 with linespoints title names[4]
unset logscale x
set output 'class_consistency_vs_residual_steps.png'.suffix
set title 'fmnist_bf16: class consistency vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'class consistency (higher is better)'
set logscale x
plot 'plots.dat' index 2 using 1:9 with linespoints title names[3], \
     'plots.dat' index 3 using 1:9 with linespoints title names[4]
unset logscale x
set output 'class_consistency_vs_gflops.png'.suffix
set title 'fmnist_bf16: class consistency vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'class consistency (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:9 with linespoints title names[1], \
     'plots.dat' index 1 using 2:9 with linespoints title names[2], \
     'plots.dat' index 2 using 2:9 with linespoints title names[3], \
     'plots.dat' index 3 using 2:9 with linespoints title names[4]
unset logscale x
# Over seeds (seeds.dat): mean with error bars of one sample standard deviation.
set output 'fid_vs_gflops_seeds.png'.suffix
set title 'fmnist_bf16: FID vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot 'seeds.dat' index 0 using 1:3:4 with yerrorlines title 'dit_fp32', \
     'seeds.dat' index 1 using 1:3:4 with yerrorlines title 'dit_bf16', \
     'seeds.dat' index 2 using 1:3:4 with yerrorlines title 'msf_fp32', \
     'seeds.dat' index 3 using 1:3:4 with yerrorlines title 'msf_bf16'
unset logscale x
set output 'is_vs_gflops_seeds.png'.suffix
set title 'fmnist_bf16: IS vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot 'seeds.dat' index 0 using 1:7:8 with yerrorlines title 'dit_fp32', \
     'seeds.dat' index 1 using 1:7:8 with yerrorlines title 'dit_bf16', \
     'seeds.dat' index 2 using 1:7:8 with yerrorlines title 'msf_fp32', \
     'seeds.dat' index 3 using 1:7:8 with yerrorlines title 'msf_bf16'
unset logscale x
set output 'precision_vs_gflops_seeds.png'.suffix
set title 'fmnist_bf16: Precision vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot 'seeds.dat' index 0 using 1:9:10 with yerrorlines title 'dit_fp32', \
     'seeds.dat' index 1 using 1:9:10 with yerrorlines title 'dit_bf16', \
     'seeds.dat' index 2 using 1:9:10 with yerrorlines title 'msf_fp32', \
     'seeds.dat' index 3 using 1:9:10 with yerrorlines title 'msf_bf16'
unset logscale x
set output 'recall_vs_gflops_seeds.png'.suffix
set title 'fmnist_bf16: Recall vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot 'seeds.dat' index 0 using 1:11:12 with yerrorlines title 'dit_fp32', \
     'seeds.dat' index 1 using 1:11:12 with yerrorlines title 'dit_bf16', \
     'seeds.dat' index 2 using 1:11:12 with yerrorlines title 'msf_fp32', \
     'seeds.dat' index 3 using 1:11:12 with yerrorlines title 'msf_bf16'
unset logscale x
set output 'class_consistency_vs_gflops_seeds.png'.suffix
set title 'fmnist_bf16: class consistency vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot 'seeds.dat' index 0 using 1:13:14 with yerrorlines title 'dit_fp32', \
     'seeds.dat' index 1 using 1:13:14 with yerrorlines title 'dit_bf16', \
     'seeds.dat' index 2 using 1:13:14 with yerrorlines title 'msf_fp32', \
     'seeds.dat' index 3 using 1:13:14 with yerrorlines title 'msf_bf16'
unset logscale x
