KSTL
*after-group