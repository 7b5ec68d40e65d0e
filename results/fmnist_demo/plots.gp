# plots.gp: written by msf run for fmnist_demo; run `gnuplot plots.gp` in this folder.
# A curve against residual steps or guidance needs two points of its series; against GFLOPs, a series of one point is a marker and a plot needs two points.
if (!exists("suffix")) suffix = ''
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
array names[2] = ['dit,cfg=1.5', 'msf,cfg=1.5']
set output 'fid_vs_gflops.png'.suffix
set title 'fmnist_demo: FID vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'FID (lower is better)'
set logscale x
plot 'plots.dat' index 0 using 2:4 with points pt 7 title names[1], \
     'plots.dat' index 1 using 2:4 with points pt 7 title names[2]
unset logscale x
set output 'is_vs_gflops.png'.suffix
set title 'fmnist_demo: IS vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'IS (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:6 with points pt 7 title names[1], \
     'plots.dat' index 1 using 2:6 with points pt 7 title names[2]
unset logscale x
set output 'precision_vs_gflops.png'.suffix
set title 'fmnist_demo: Precision vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Precision (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:7 with points pt 7 title names[1], \
     'plots.dat' index 1 using 2:7 with points pt 7 title names[2]
unset logscale x
set output 'recall_vs_gflops.png'.suffix
set title 'fmnist_demo: Recall vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'Recall (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:8 with points pt 7 title names[1], \
     'plots.dat' index 1 using 2:8 with points pt 7 title names[2]
unset logscale x
set output 'class_consistency_vs_gflops.png'.suffix
set title 'fmnist_demo: class consistency vs sampling cost'
set xlabel 'sampling GFLOPs per sample (log scale)'
set ylabel 'class consistency (higher is better)'
set logscale x
plot 'plots.dat' index 0 using 2:9 with points pt 7 title names[1], \
     'plots.dat' index 1 using 2:9 with points pt 7 title names[2]
unset logscale x
