# plots.gp: made by `msf spectrum results/fmnist_demo/points/dit/latents.h5 --out results/fmnist_demo/points/dit/spectrum --title dit --factorize s=2,levels=2,down=area,up=bilinear`
# (msf 0.1.0, commit 51f88cf8bde4). Rerun with: cd DIR && gnuplot plots.gp
if (!exists("suffix")) suffix = ''
term = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? "pngcairo enhanced font 'sans,11'" : 'png enhanced'
set datafile separator ','
set datafile missing 'nan'
set grid lc rgb '#dddddd'

set terminal @term size 1000,650
set output 'spectrum.png'.suffix
set title 'dit: radially averaged power spectrum'."\n".'500 images 1x32x32, factorisation s=2,levels=2,down=area,up=bilinear' noenhanced
set logscale xy
set format y '10^{%L}'
set xlabel 'radial frequency |f| = (f_x^2 + f_y^2)^{1/2} (cycles/pixel, log scale; 0.5 = Nyquist along an axis, 0.707 in the corners; DC not shown)'
set ylabel 'power per frequency, |DFT|^2/(HW) (input units^2, log scale)'
set key bottom left box opaque
set yrange [2.50501e-08:*]
set label 'low' at 0.0721687836, graph 0.96 center tc rgb 'gray30'
set arrow from 0.166666667, graph 0 to 0.166666667, graph 1 nohead dt 2 lc rgb 'gray50'
set label 'mid' at 0.23570226, graph 0.96 center tc rgb 'gray30'
set arrow from 0.333333333, graph 0 to 0.333333333, graph 1 nohead dt 2 lc rgb 'gray50'
set label 'high' at 0.485491772, graph 0.96 center tc rgb 'gray30'
set arrow from 0.25, graph 0 to 0.25, graph 1 nohead dt 3 lw 1.5 lc rgb '#b03030'
set label 'base Nyquist (0.5/2)' at 0.25, graph 0.90 left offset 0.5,0 tc rgb '#b03030'
plot 'spectrum.csv' skip 2 using 1:2 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#222222' title 'z', \
     'spectrum.csv' skip 2 using 1:3 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#1f77b4' title 'U(base)', \
     'spectrum.csv' skip 2 using 1:4 with linespoints lw 2 pt 7 ps 0.7 lc rgb '#d62728' title 'residual z - U(base)'
unset arrow
unset label
unset logscale
set format y '%g'
set yrange [*:*]

set terminal @term size 1400,650
set output 'bands.png'.suffix
set multiplot layout 1,2 title 'dit: energy per frequency band (band edges as fractions of the Nyquist radius 1/3,2/3; '."'".'all'."'".' = every frequency)'."\n".'500 images 1x32x32, factorisation s=2,levels=2,down=area,up=bilinear' noenhanced
set style fill solid 0.85 border lc rgb 'black'
set boxwidth 0.2
set xrange [-0.6:3.6]
set key top right box opaque
set xlabel 'radial frequency band'
set xtics ('low' 0, 'mid' 1, 'high' 2, 'all' 3)
set title 'energy per image and channel'
set logscale y
set ylabel 'energy in the band (input units^2, log scale)'
set yrange [0.0703393:19314.9]
set format y '10^{%L}'
plot 'bands.csv' skip 1 using ($0-0.2667):5:(0.2667) with boxes lc rgb '#222222' title "z" noenhanced, \
     'bands.csv' skip 1 using ($0+0.0000):6:(0.2667) with boxes lc rgb '#1f77b4' title "U(base)" noenhanced, \
     'bands.csv' skip 1 using ($0+0.2667):7:(0.2667) with boxes lc rgb '#d62728' title "residual z - U(base)" noenhanced
unset logscale y
set format y '%g'
set title "share of z's energy in each band carried by U(base) and by the residual"
set ylabel 'share of the band energy of z (%)'
set yrange [*:*]
set offsets 0, 0, graph 0.3, graph 0.05
set xzeroaxis lt -1
pct(v) = abs(v) < 0.0005 ? '0.0' : sprintf('%.1f', 100 * v)
set boxwidth 0.2667
plot 'bands.csv' skip 1 using ($0-0.2667):(100*$9):(0.2667) with boxes lc rgb '#1f77b4' title "U(base)" noenhanced, \
     '' skip 1 using ($0-0.2667):($9 >= 0 ? 100*$9 : NaN):(pct($9)) with labels offset 0,0.7 font ',9' notitle, \
     '' skip 1 using ($0-0.2667):($9 < 0 ? 100*$9 : NaN):(pct($9)) with labels offset 0,-0.7 font ',9' notitle, \
     'bands.csv' skip 1 using ($0+0.0000):(100*$10):(0.2667) with boxes lc rgb '#d62728' title "residual z - U(base)" noenhanced, \
     '' skip 1 using ($0+0.0000):($10 >= 0 ? 100*$10 : NaN):(pct($10)) with labels offset 0,0.7 font ',9' notitle, \
     '' skip 1 using ($0+0.0000):($10 < 0 ? 100*$10 : NaN):(pct($10)) with labels offset 0,-0.7 font ',9' notitle, \
     'bands.csv' skip 1 using ($0+0.2667):(100*$11):(0.2667) with boxes lc rgb '#8c8c8c' title "cross term 2<U(base), residual>" noenhanced, \
     '' skip 1 using ($0+0.2667):($11 >= 0 ? 100*$11 : NaN):(pct($11)) with labels offset 0,0.7 font ',9' notitle, \
     '' skip 1 using ($0+0.2667):($11 < 0 ? 100*$11 : NaN):(pct($11)) with labels offset 0,-0.7 font ',9' notitle
unset multiplot
unset xzeroaxis
set offsets 0, 0, 0, 0
set autoscale
set xrange [*:*]

set terminal @term size 1200,650
set output 'wavelet.png'.suffix
set title 'dit: db2 wavelet (periodization, 3 levels) subband energies'."\n".'500 images 1x32x32, factorisation s=2,levels=2,down=area,up=bilinear; level 1 is the finest; LH = pywt cH, HL = cV, HH = cD' noenhanced
set logscale y
set format y '10^{%L}'
set yrange [0.0199952:16785.5]
set ylabel 'energy per image and channel (input units^2, log scale)'
set xlabel 'subband (LL = approximation; LH, HL, HH = detail) and level'
set xrange [-0.6:9.6]
set key top right box opaque
set xtics ('LL3' 0, 'LH3' 1, 'HL3' 2, 'HH3' 3, 'LH2' 4, 'HL2' 5, 'HH2' 6, 'LH1' 7, 'HL1' 8, 'HH1' 9)
set boxwidth 0.2667
plot 'wavelet.csv' skip 1 every 4::0 using ($0-0.2667):4:(0.2667) with boxes lc rgb '#222222' title "z" noenhanced, \
     'wavelet.csv' skip 1 every 4::1 using ($0+0.0000):4:(0.2667) with boxes lc rgb '#1f77b4' title "U(base)" noenhanced, \
     'wavelet.csv' skip 1 every 4::2 using ($0+0.2667):4:(0.2667) with boxes lc rgb '#d62728' title "residual z - U(base)" noenhanced
unset logscale y
set format y '%g'

unset output
