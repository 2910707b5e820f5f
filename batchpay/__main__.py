from batchpay.cli import main

main()
