# plots.gp: written by msf run for fmnist_demo; run `gnuplot plots.gp` in this folder.
if (!exists("suffix")) suffix = ''
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
array names[2] = ['dit,cfg=1.5', 'msf,cfg=1.5']
set output 'fid_vs_residual_steps.png'.suffix
set title 'fmnist_demo: FID vs residual steps'
set xlabel 'residual steps'
set ylabel 'FID'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 1:4 with linespoints title names[i+1]
unset logscale x
set output 'fid_vs_gflops.png'.suffix
set title 'fmnist_demo: FID vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 2:4 with linespoints title names[i+1]
unset logscale x
set output 'is_vs_residual_steps.png'.suffix
set title 'fmnist_demo: IS vs residual steps'
set xlabel 'residual steps'
set ylabel 'IS'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 1:6 with linespoints title names[i+1]
unset logscale x
set output 'is_vs_gflops.png'.suffix
set title 'fmnist_demo: IS vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 2:6 with linespoints title names[i+1]
unset logscale x
set output 'precision_vs_residual_steps.png'.suffix
set title 'fmnist_demo: Precision vs residual steps'
set xlabel 'residual steps'
set ylabel 'Precision'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 1:7 with linespoints title names[i+1]
unset logscale x
set output 'precision_vs_gflops.png'.suffix
set title 'fmnist_demo: Precision vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 2:7 with linespoints title names[i+1]
unset logscale x
set output 'recall_vs_residual_steps.png'.suffix
set title 'fmnist_demo: Recall vs residual steps'
set xlabel 'residual steps'
set ylabel 'Recall'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 1:8 with linespoints title names[i+1]
unset logscale x
set output 'recall_vs_gflops.png'.suffix
set title 'fmnist_demo: Recall vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 2:8 with linespoints title names[i+1]
unset logscale x
set output 'class_consistency_vs_residual_steps.png'.suffix
set title 'fmnist_demo: class consistency vs residual steps'
set xlabel 'residual steps'
set ylabel 'class consistency'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 1:9 with linespoints title names[i+1]
unset logscale x
set output 'class_consistency_vs_gflops.png'.suffix
set title 'fmnist_demo: class consistency vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot for [i=0:1] 'plots.dat' index i using 2:9 with linespoints title names[i+1]
unset logscale x
