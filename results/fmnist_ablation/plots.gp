# plots.gp: written by msf run for fmnist_ablation; run `gnuplot plots.gp` in this folder.
set terminal pngcairo size 800,560 noenhanced
set datafile missing 'NaN'
set key outside right
set grid
names = "dit,cfg=1.5 msf_area_bilinear,cfg=1.5 msf_area_nearest,cfg=1.5 msf_area_bilinear_ddim,cfg=1.5 dit_guidance,cfg=1 dit_guidance,cfg=3 msf_area_bilinear_guidance,cfg=1 msf_area_bilinear_guidance,cfg=3"
gnames = "dit_guidance,steps=100 msf_area_bilinear_guidance,steps=100+10"
set output 'fid_vs_residual_steps.png'
set title 'fmnist_ablation: FID vs residual steps'
set xlabel 'residual steps'
set ylabel 'FID'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 1:4 with linespoints title word(names, i+1)
unset logscale x
set output 'fid_vs_gflops.png'
set title 'fmnist_ablation: FID vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'FID'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 2:4 with linespoints title word(names, i+1)
unset logscale x
set output 'fid_vs_guidance.png'
set title 'fmnist_ablation: FID vs guidance scale'
set xlabel 'guidance scale (1 = none)'
set ylabel 'FID'
plot for [i=0:1] 'guidance.dat' index i using 1:4 with linespoints title word(gnames, i+1)
set output 'is_vs_residual_steps.png'
set title 'fmnist_ablation: IS vs residual steps'
set xlabel 'residual steps'
set ylabel 'IS'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 1:6 with linespoints title word(names, i+1)
unset logscale x
set output 'is_vs_gflops.png'
set title 'fmnist_ablation: IS vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'IS'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 2:6 with linespoints title word(names, i+1)
unset logscale x
set output 'is_vs_guidance.png'
set title 'fmnist_ablation: IS vs guidance scale'
set xlabel 'guidance scale (1 = none)'
set ylabel 'IS'
plot for [i=0:1] 'guidance.dat' index i using 1:6 with linespoints title word(gnames, i+1)
set output 'precision_vs_residual_steps.png'
set title 'fmnist_ablation: Precision vs residual steps'
set xlabel 'residual steps'
set ylabel 'Precision'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 1:7 with linespoints title word(names, i+1)
unset logscale x
set output 'precision_vs_gflops.png'
set title 'fmnist_ablation: Precision vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Precision'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 2:7 with linespoints title word(names, i+1)
unset logscale x
set output 'precision_vs_guidance.png'
set title 'fmnist_ablation: Precision vs guidance scale'
set xlabel 'guidance scale (1 = none)'
set ylabel 'Precision'
plot for [i=0:1] 'guidance.dat' index i using 1:7 with linespoints title word(gnames, i+1)
set output 'recall_vs_residual_steps.png'
set title 'fmnist_ablation: Recall vs residual steps'
set xlabel 'residual steps'
set ylabel 'Recall'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 1:8 with linespoints title word(names, i+1)
unset logscale x
set output 'recall_vs_gflops.png'
set title 'fmnist_ablation: Recall vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'Recall'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 2:8 with linespoints title word(names, i+1)
unset logscale x
set output 'recall_vs_guidance.png'
set title 'fmnist_ablation: Recall vs guidance scale'
set xlabel 'guidance scale (1 = none)'
set ylabel 'Recall'
plot for [i=0:1] 'guidance.dat' index i using 1:8 with linespoints title word(gnames, i+1)
set output 'class_consistency_vs_residual_steps.png'
set title 'fmnist_ablation: class consistency vs residual steps'
set xlabel 'residual steps'
set ylabel 'class consistency'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 1:9 with linespoints title word(names, i+1)
unset logscale x
set output 'class_consistency_vs_gflops.png'
set title 'fmnist_ablation: class consistency vs cost'
set xlabel 'GFLOPs per sample'
set ylabel 'class consistency'
set logscale x
plot for [i=0:7] 'plots.dat' index i using 2:9 with linespoints title word(names, i+1)
unset logscale x
set output 'class_consistency_vs_guidance.png'
set title 'fmnist_ablation: class consistency vs guidance scale'
set xlabel 'guidance scale (1 = none)'
set ylabel 'class consistency'
plot for [i=0:1] 'guidance.dat' index i using 1:9 with linespoints title word(gnames, i+1)
