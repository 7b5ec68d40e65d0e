# plots.gp: written by msf run for fmnist_steps; run `gnuplot plots.gp` in this folder.
if (!exists("suffix")) suffix = ''
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
array names[3] = ['dit,cfg=1.5', 'base100,cfg=1.5', 'msf_base_steps,cfg=1.5']
set output 'fid_vs_residual_steps.png'.suffix
set title 'fmnist_steps: FID vs residual steps'
set xlabel 'residual steps'
set ylabel 'FID'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 1:4 with linespoints title names[i+1]
unset logscale x
set output 'fid_vs_gflops.png'.suffix
set title 'fmnist_steps: FID vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 2:4 with linespoints title names[i+1]
unset logscale x
set output 'is_vs_residual_steps.png'.suffix
set title 'fmnist_steps: IS vs residual steps'
set xlabel 'residual steps'
set ylabel 'IS'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 1:6 with linespoints title names[i+1]
unset logscale x
set output 'is_vs_gflops.png'.suffix
set title 'fmnist_steps: IS vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 2:6 with linespoints title names[i+1]
unset logscale x
set output 'precision_vs_residual_steps.png'.suffix
set title 'fmnist_steps: Precision vs residual steps'
set xlabel 'residual steps'
set ylabel 'Precision'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 1:7 with linespoints title names[i+1]
unset logscale x
set output 'precision_vs_gflops.png'.suffix
set title 'fmnist_steps: Precision vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 2:7 with linespoints title names[i+1]
unset logscale x
set output 'recall_vs_residual_steps.png'.suffix
set title 'fmnist_steps: Recall vs residual steps'
set xlabel 'residual steps'
set ylabel 'Recall'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 1:8 with linespoints title names[i+1]
unset logscale x
set output 'recall_vs_gflops.png'.suffix
set title 'fmnist_steps: Recall vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 2:8 with linespoints title names[i+1]
unset logscale x
set output 'class_consistency_vs_residual_steps.png'.suffix
set title 'fmnist_steps: class consistency vs residual steps'
set xlabel 'residual steps'
set ylabel 'class consistency'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 1:9 with linespoints title names[i+1]
unset logscale x
set output 'class_consistency_vs_gflops.png'.suffix
set title 'fmnist_steps: class consistency vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot for [i=0:2] 'plots.dat' index i using 2:9 with linespoints title names[i+1]
unset logscale x
# Over seeds (seeds.dat): mean with error bars of one sample standard deviation.
set output 'fid_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_steps: FID vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'FID'
set logscale x
plot 'seeds.dat' index 0 using 2:3:4 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 2:3:4 with yerrorlines title 'msf_residual_steps', \
     'seeds.dat' index 2 using 2:3:4 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'fid_vs_gflops_seeds.png'.suffix
set title 'fmnist_steps: FID vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot 'seeds.dat' index 0 using 1:3:4 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 1:3:4 with yerrorbars title 'msf_residual_steps', \
     'seeds.dat' index 2 using 1:3:4 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'is_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_steps: IS vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'IS'
set logscale x
plot 'seeds.dat' index 0 using 2:7:8 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 2:7:8 with yerrorlines title 'msf_residual_steps', \
     'seeds.dat' index 2 using 2:7:8 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'is_vs_gflops_seeds.png'.suffix
set title 'fmnist_steps: IS vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot 'seeds.dat' index 0 using 1:7:8 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 1:7:8 with yerrorbars title 'msf_residual_steps', \
     'seeds.dat' index 2 using 1:7:8 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'precision_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_steps: Precision vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'Precision'
set logscale x
plot 'seeds.dat' index 0 using 2:9:10 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 2:9:10 with yerrorlines title 'msf_residual_steps', \
     'seeds.dat' index 2 using 2:9:10 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'precision_vs_gflops_seeds.png'.suffix
set title 'fmnist_steps: Precision vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot 'seeds.dat' index 0 using 1:9:10 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 1:9:10 with yerrorbars title 'msf_residual_steps', \
     'seeds.dat' index 2 using 1:9:10 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'recall_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_steps: Recall vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'Recall'
set logscale x
plot 'seeds.dat' index 0 using 2:11:12 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 2:11:12 with yerrorlines title 'msf_residual_steps', \
     'seeds.dat' index 2 using 2:11:12 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'recall_vs_gflops_seeds.png'.suffix
set title 'fmnist_steps: Recall vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot 'seeds.dat' index 0 using 1:11:12 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 1:11:12 with yerrorbars title 'msf_residual_steps', \
     'seeds.dat' index 2 using 1:11:12 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'class_consistency_vs_train_gflops_seeds.png'.suffix
set title 'fmnist_steps: class consistency vs training compute, mean +- sd over seeds'
set xlabel 'training GFLOPs (forward GFLOPs x samples seen)'
set ylabel 'class consistency'
set logscale x
plot 'seeds.dat' index 0 using 2:13:14 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 2:13:14 with yerrorlines title 'msf_residual_steps', \
     'seeds.dat' index 2 using 2:13:14 with yerrorlines title 'msf_base_steps'
unset logscale x
set output 'class_consistency_vs_gflops_seeds.png'.suffix
set title 'fmnist_steps: class consistency vs sampling cost, mean +- sd over seeds'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot 'seeds.dat' index 0 using 1:13:14 with yerrorlines title 'dit', \
     'seeds.dat' index 1 using 1:13:14 with yerrorbars title 'msf_residual_steps', \
     'seeds.dat' index 2 using 1:13:14 with yerrorlines title 'msf_base_steps'
unset logscale x
