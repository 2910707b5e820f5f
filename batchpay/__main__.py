from batchpay.cli import entry

entry()
