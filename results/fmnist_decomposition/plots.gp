# plots.gp: written by msf run for fmnist_decomposition; run `gnuplot plots.gp` in this folder.
# A curve against residual steps or guidance needs two points of its series; against GFLOPs, a series of one point is a marker and a plot needs two points.
if (!exists("suffix")) suffix = ''
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
array names[18] = ['msf,cfg=1.5', 'cond_aug,cfg=1.5', 'half,cfg=1.5', 'real_z_set0,cfg=nan', 'real_z_set1,cfg=nan', 'real_z_set2,cfg=nan', 'real_none_set0,cfg=1.5', 'real_none_set1,cfg=1.5', 'real_none_set2,cfg=1.5', 'real_residual_set0,cfg=1.5', 'real_residual_set1,cfg=1.5', 'real_residual_set2,cfg=1.5', 'real_cond_aug_set0,cfg=1.5', 'real_cond_aug_set1,cfg=1.5', 'real_cond_aug_set2,cfg=1.5', 'real_half_set0,cfg=1.5', 'real_half_set1,cfg=1.5', 'real_half_set2,cfg=1.5']
set output 'fid_vs_residual_steps.png'.suffix
set title 'fmnist_decomposition: FID vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'FID (lower is better)'
set logscale x
plot 'plots.dat' index 0 using 1:4 with linespoints title names[1], \
     'plots.dat' index 1 using 1:4 with linespoints title names[2], \
     'plots.dat' index 2 using 1:4 with linespoints title names[3]
unset logscale x
set output 'fid_vs_gflops.png'.suffix
set title 'fmnist_decomposition: FID vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'FID (lower is better)'
set logscale x
plot 'plots.dat' index 0 using 2:4 with linespoints title names[1], \
     'plots.dat' index 1 using 2:4 with linespoints title names[2], \
     'plots.dat' index 2 using 2:4 with linespoints title names[3], \
     'plots.dat' index 9 using 2:4 with points pt 7 title names[10], \
     'plots.dat' index 10 using 2:4 with points pt 7 title names[11], \
     'plots.dat' index 11 using 2:4 with points pt 7 title names[12], \
     'plots.dat' index 12 using 2:4 with points pt 7 title names[13], \
     'plots.dat' index 13 using 2:4 with points pt 7 title names[14], \
     'plots.dat' index 14 using 2:4 with points pt 7 title names[15], \
     'plots.dat' index 15 using 2:4 with points pt 7 title names[16], \
     'plots.dat' index 16 using 2:4 with points pt 7 title names[17], \
     'plots.dat' index 17 using 2:4 with points pt 7 title names[18]
unset logscale x
set output 'is_vs_residual_steps.png'.suffix
set title 'fmnist_decomposition: IS vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'IS (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 1:6 with linespoints title names[1], \
     'plots.dat' index 1 using 1:6 with linespoints title names[2], \
     'plots.dat' index 2 using 1:6 with linespoints title names[3]
unset logscale x
set output 'is_vs_gflops.png'.suffix
set title 'fmnist_decomposition: IS vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'IS (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:6 with linespoints title names[1], \
     'plots.dat' index 1 using 2:6 with linespoints title names[2], \
     'plots.dat' index 2 using 2:6 with linespoints title names[3], \
     'plots.dat' index 9 using 2:6 with points pt 7 title names[10], \
     'plots.dat' index 10 using 2:6 with points pt 7 title names[11], \
     'plots.dat' index 11 using 2:6 with points pt 7 title names[12], \
     'plots.dat' index 12 using 2:6 with points pt 7 title names[13], \
     'plots.dat' index 13 using 2:6 with points pt 7 title names[14], \
     'plots.dat' index 14 using 2:6 with points pt 7 title names[15], \
     'plots.dat' index 15 using 2:6 with points pt 7 title names[16], \
     'plots.dat' index 16 using 2:6 with points pt 7 title names[17], \
     'plots.dat' index 17 using 2:6 with points pt 7 title names[18]
unset logscale x
set output 'precision_vs_residual_steps.png'.suffix
set title 'fmnist_decomposition: Precision vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'Precision (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 1:7 with linespoints title names[1], \
     'plots.dat' index 1 using 1:7 with linespoints title names[2], \
     'plots.dat' index 2 using 1:7 with linespoints title names[3]
unset logscale x
set output 'precision_vs_gflops.png'.suffix
set title 'fmnist_decomposition: Precision vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Precision (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:7 with linespoints title names[1], \
     'plots.dat' index 1 using 2:7 with linespoints title names[2], \
     'plots.dat' index 2 using 2:7 with linespoints title names[3], \
     'plots.dat' index 9 using 2:7 with points pt 7 title names[10], \
     'plots.dat' index 10 using 2:7 with points pt 7 title names[11], \
     'plots.dat' index 11 using 2:7 with points pt 7 title names[12], \
     'plots.dat' index 12 using 2:7 with points pt 7 title names[13], \
     'plots.dat' index 13 using 2:7 with points pt 7 title names[14], \
     'plots.dat' index 14 using 2:7 with points pt 7 title names[15], \
     'plots.dat' index 15 using 2:7 with points pt 7 title names[16], \
     'plots.dat' index 16 using 2:7 with points pt 7 title names[17], \
     'plots.dat' index 17 using 2:7 with points pt 7 title names[18]
unset logscale x
set output 'recall_vs_residual_steps.png'.suffix
set title 'fmnist_decomposition: Recall vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'Recall (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 1:8 with linespoints title names[1], \
     'plots.dat' index 1 using 1:8 with linespoints title names[2], \
     'plots.dat' index 2 using 1:8 with linespoints title names[3]
unset logscale x
set output 'recall_vs_gflops.png'.suffix
set title 'fmnist_decomposition: Recall vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Recall (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:8 with linespoints title names[1], \
     'plots.dat' index 1 using 2:8 with linespoints title names[2], \
     'plots.dat' index 2 using 2:8 with linespoints title names[3], \
     'plots.dat' index 9 using 2:8 with points pt 7 title names[10], \
     'plots.dat' index 10 using 2:8 with points pt 7 title names[11], \
     'plots.dat' index 11 using 2:8 with points pt 7 title names[12], \
     'plots.dat' index 12 using 2:8 with points pt 7 title names[13], \
     'plots.dat' index 13 using 2:8 with points pt 7 title names[14], \
     'plots.dat' index 14 using 2:8 with points pt 7 title names[15], \
     'plots.dat' index 15 using 2:8 with points pt 7 title names[16], \
     'plots.dat' index 16 using 2:8 with points pt 7 title names[17], \
     'plots.dat' index 17 using 2:8 with points pt 7 title names[18]
unset logscale x
set output 'class_consistency_vs_residual_steps.png'.suffix
set title 'fmnist_decomposition: class consistency vs residual steps'
set xlabel 'residual sampling steps (log scale)'
set ylabel 'class consistency (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 1:9 with linespoints title names[1], \
     'plots.dat' index 1 using 1:9 with linespoints title names[2], \
     'plots.dat' index 2 using 1:9 with linespoints title names[3]
unset logscale x
set output 'class_consistency_vs_gflops.png'.suffix
set title 'fmnist_decomposition: class consistency vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'class consistency (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:9 with linespoints title names[1], \
     'plots.dat' index 1 using 2:9 with linespoints title names[2], \
     'plots.dat' index 2 using 2:9 with linespoints title names[3], \
     'plots.dat' index 9 using 2:9 with points pt 7 title names[10], \
     'plots.dat' index 10 using 2:9 with points pt 7 title names[11], \
     'plots.dat' index 11 using 2:9 with points pt 7 title names[12], \
     'plots.dat' index 12 using 2:9 with points pt 7 title names[13], \
     'plots.dat' index 13 using 2:9 with points pt 7 title names[14], \
     'plots.dat' index 14 using 2:9 with points pt 7 title names[15], \
     'plots.dat' index 15 using 2:9 with points pt 7 title names[16], \
     'plots.dat' index 16 using 2:9 with points pt 7 title names[17], \
     'plots.dat' index 17 using 2:9 with points pt 7 title names[18]
unset logscale x
# Over seeds (seeds.dat): mean with error bars of one sample standard deviation.
set output 'fid_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: FID vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'FID'
set logscale x
plot 'seeds.dat' index 0 using 2:3:4 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 2:3:4 with yerrorlines title 'cond_aug', \
     'seeds.dat' index 2 using 2:3:4 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 2:3:4 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 2:3:4 with yerrorlines title 'real_none', \
     'seeds.dat' index 5 using 2:3:4 with yerrorlines title 'real_residual', \
     'seeds.dat' index 6 using 2:3:4 with yerrorlines title 'real_cond_aug', \
     'seeds.dat' index 7 using 2:3:4 with yerrorlines title 'real_half'
unset logscale x
set output 'fid_vs_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: FID vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot 'seeds.dat' index 0 using 1:3:4 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 1:3:4 with yerrorbars title 'cond_aug', \
     'seeds.dat' index 2 using 1:3:4 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 1:3:4 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 1:3:4 with yerrorbars title 'real_none', \
     'seeds.dat' index 5 using 1:3:4 with yerrorbars title 'real_residual', \
     'seeds.dat' index 6 using 1:3:4 with yerrorbars title 'real_cond_aug', \
     'seeds.dat' index 7 using 1:3:4 with yerrorbars title 'real_half'
unset logscale x
set output 'is_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: IS vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'IS'
set logscale x
plot 'seeds.dat' index 0 using 2:7:8 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 2:7:8 with yerrorlines title 'cond_aug', \
     'seeds.dat' index 2 using 2:7:8 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 2:7:8 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 2:7:8 with yerrorlines title 'real_none', \
     'seeds.dat' index 5 using 2:7:8 with yerrorlines title 'real_residual', \
     'seeds.dat' index 6 using 2:7:8 with yerrorlines title 'real_cond_aug', \
     'seeds.dat' index 7 using 2:7:8 with yerrorlines title 'real_half'
unset logscale x
set output 'is_vs_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: IS vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot 'seeds.dat' index 0 using 1:7:8 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 1:7:8 with yerrorbars title 'cond_aug', \
     'seeds.dat' index 2 using 1:7:8 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 1:7:8 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 1:7:8 with yerrorbars title 'real_none', \
     'seeds.dat' index 5 using 1:7:8 with yerrorbars title 'real_residual', \
     'seeds.dat' index 6 using 1:7:8 with yerrorbars title 'real_cond_aug', \
     'seeds.dat' index 7 using 1:7:8 with yerrorbars title 'real_half'
unset logscale x
set output 'precision_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: Precision vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'Precision'
set logscale x
plot 'seeds.dat' index 0 using 2:9:10 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 2:9:10 with yerrorlines title 'cond_aug', \
     'seeds.dat' index 2 using 2:9:10 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 2:9:10 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 2:9:10 with yerrorlines title 'real_none', \
     'seeds.dat' index 5 using 2:9:10 with yerrorlines title 'real_residual', \
     'seeds.dat' index 6 using 2:9:10 with yerrorlines title 'real_cond_aug', \
     'seeds.dat' index 7 using 2:9:10 with yerrorlines title 'real_half'
unset logscale x
set output 'precision_vs_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: Precision vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot 'seeds.dat' index 0 using 1:9:10 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 1:9:10 with yerrorbars title 'cond_aug', \
     'seeds.dat' index 2 using 1:9:10 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 1:9:10 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 1:9:10 with yerrorbars title 'real_none', \
     'seeds.dat' index 5 using 1:9:10 with yerrorbars title 'real_residual', \
     'seeds.dat' index 6 using 1:9:10 with yerrorbars title 'real_cond_aug', \
     'seeds.dat' index 7 using 1:9:10 with yerrorbars title 'real_half'
unset logscale x
set output 'recall_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: Recall vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'Recall'
set logscale x
plot 'seeds.dat' index 0 using 2:11:12 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 2:11:12 with yerrorlines title 'cond_aug', \
     'seeds.dat' index 2 using 2:11:12 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 2:11:12 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 2:11:12 with yerrorlines title 'real_none', \
     'seeds.dat' index 5 using 2:11:12 with yerrorlines title 'real_residual', \
     'seeds.dat' index 6 using 2:11:12 with yerrorlines title 'real_cond_aug', \
     'seeds.dat' index 7 using 2:11:12 with yerrorlines title 'real_half'
unset logscale x
set output 'recall_vs_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: Recall vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot 'seeds.dat' index 0 using 1:11:12 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 1:11:12 with yerrorbars title 'cond_aug', \
     'seeds.dat' index 2 using 1:11:12 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 1:11:12 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 1:11:12 with yerrorbars title 'real_none', \
     'seeds.dat' index 5 using 1:11:12 with yerrorbars title 'real_residual', \
     'seeds.dat' index 6 using 1:11:12 with yerrorbars title 'real_cond_aug', \
     'seeds.dat' index 7 using 1:11:12 with yerrorbars title 'real_half'
unset logscale x
set output 'class_consistency_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: class consistency vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'class consistency'
set logscale x
plot 'seeds.dat' index 0 using 2:13:14 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 2:13:14 with yerrorlines title 'cond_aug', \
     'seeds.dat' index 2 using 2:13:14 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 2:13:14 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 2:13:14 with yerrorlines title 'real_none', \
     'seeds.dat' index 5 using 2:13:14 with yerrorlines title 'real_residual', \
     'seeds.dat' index 6 using 2:13:14 with yerrorlines title 'real_cond_aug', \
     'seeds.dat' index 7 using 2:13:14 with yerrorlines title 'real_half'
unset logscale x
set output 'class_consistency_vs_gflops_seeds.png'.suffix
set title 'fmnist_decomposition: class consistency vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot 'seeds.dat' index 0 using 1:13:14 with yerrorlines title 'msf', \
     'seeds.dat' index 1 using 1:13:14 with yerrorbars title 'cond_aug', \
     'seeds.dat' index 2 using 1:13:14 with yerrorlines title 'half', \
     'seeds.dat' index 3 using 1:13:14 with yerrorlines title 'real_z', \
     'seeds.dat' index 4 using 1:13:14 with yerrorbars title 'real_none', \
     'seeds.dat' index 5 using 1:13:14 with yerrorbars title 'real_residual', \
     'seeds.dat' index 6 using 1:13:14 with yerrorbars title 'real_cond_aug', \
     'seeds.dat' index 7 using 1:13:14 with yerrorbars title 'real_half'
unset logscale x
